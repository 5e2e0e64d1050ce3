import { ReactWidget } from '@jupyterlab/ui-components';
import { Poll } from '@lumino/polling';

/**
 * Longest wait between two loads while the server keeps failing, in ms.
 */
const MAX_BACKOFF = 60000;

/**
 * A React widget that loads its data on a poll: from the first time it is
 * shown, again each time it is shown, and every `interval` ms while visible.
 * A load that throws makes the poll back off (up to a minute).
 */
export abstract class PolledWidget extends ReactWidget {
  /**
   * Create the widget; nothing is loaded before it is first shown.
   */
  constructor(options: PolledWidget.IOptions) {
    super();
    this.poll = new Poll({
      auto: false,
      factory: () => this.load(),
      frequency: {
        interval: options.interval,
        backoff: true,
        max: MAX_BACKOFF
      },
      name: options.name,
      standby: () => !this.isVisible || 'when-hidden'
    });
  }

  /**
   * Load now; resolves when the load has finished.
   */
  async refresh(): Promise<void> {
    await this.poll.refresh();
    await this.poll.tick;
  }

  dispose(): void {
    this.poll.dispose();
    super.dispose();
  }

  protected onAfterShow(): void {
    if (!this._started) {
      this._started = true;
      void this.poll.start();
    } else {
      void this.poll.refresh();
    }
  }

  /**
   * Fetch and show the data; throw to make the poll back off.
   */
  protected abstract load(): Promise<void>;

  /**
   * The poll, for subclasses that want a load sooner than the next tick.
   */
  protected readonly poll: Poll;

  private _started = false;
}

/**
 * A namespace for PolledWidget statics.
 */
export namespace PolledWidget {
  /**
   * Options of a polled widget.
   */
  export interface IOptions {
    /**
     * Milliseconds between loads while visible.
     */
    interval: number;
    /**
     * Name of the poll (shown when debugging polls).
     */
    name: string;
  }
}
