import { Widget } from '@lumino/widgets';

import { PolledWidget } from '../components/PolledWidget';

// The real ReactWidget pulls in ES modules jest does not transform here; the
// poll's lifecycle only needs a lumino widget.
jest.mock('@jupyterlab/ui-components', () => {
  const { Widget } = jest.requireActual('@lumino/widgets');
  return { ReactWidget: class extends Widget {} };
});

class Counter extends PolledWidget {
  loads = 0;
  fail = false;

  protected async load(): Promise<void> {
    this.loads++;
    if (this.fail) {
      throw new Error('server down');
    }
  }

  protected render(): null {
    return null;
  }
}

const settle = () => new Promise(resolve => setTimeout(resolve, 50));

describe('PolledWidget', () => {
  it('loads when first shown, on refresh and when shown again', async () => {
    const widget = new Counter({ interval: 60000, name: 'test' });
    widget.hide();
    Widget.attach(widget, document.body);
    await settle();
    expect(widget.loads).toBe(0);

    widget.show();
    await settle();
    expect(widget.loads).toBe(1);

    await widget.refresh();
    expect(widget.loads).toBe(2);

    widget.hide();
    widget.show();
    await settle();
    expect(widget.loads).toBe(3);

    widget.dispose();
    expect(widget.isDisposed).toBe(true);
  });

  it('loads again after a failed load', async () => {
    const widget = new Counter({ interval: 60000, name: 'failing' });
    widget.fail = true;
    widget.hide();
    Widget.attach(widget, document.body);
    widget.show();
    await settle();
    expect(widget.loads).toBe(1);
    widget.fail = false;
    await widget.refresh();
    expect(widget.loads).toBe(2);
    widget.dispose();
  });
});
