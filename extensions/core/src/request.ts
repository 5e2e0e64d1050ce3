import { URLExt } from '@jupyterlab/coreutils';

import { ServerConnection } from '@jupyterlab/services';
import { nullTranslator, TranslationBundle } from '@jupyterlab/translation';

/**
 * URL path of the workbench REST API, relative to the server's base URL.
 */
export const API_NAMESPACE = 'workbench/api';

/**
 * An HTTP error answer of the workbench API.
 *
 * The parsed body is kept because some answers carry data even with an error
 * status: the health endpoint sends its full report with HTTP 503.
 */
export class APIError extends ServerConnection.ResponseError {
  /**
   * Create an API error from the response and its already-read body.
   */
  constructor(response: Response, body: unknown) {
    super(response, messageOf(body) ?? undefined);
    this.body = body;
  }

  /**
   * The response body: parsed JSON, else the raw text (possibly empty).
   */
  readonly body: unknown;

  /**
   * The HTTP status code.
   */
  get status(): number {
    return this.response.status;
  }
}

/**
 * Call the workbench REST API.
 *
 * @param endPoint Path below `/workbench/api/`, e.g. `health`.
 * @param serverSettings The server settings to use for the request.
 * @param init Initial values for the request.
 * @returns The response body interpreted as JSON.
 * @throws {ServerConnection.NetworkError} when the server cannot be reached.
 * @throws {APIError} when the server answers with an error status.
 */
export async function requestAPI<T>(
  endPoint: string,
  serverSettings: ServerConnection.ISettings,
  init: RequestInit = {}
): Promise<T> {
  const requestUrl = URLExt.join(
    serverSettings.baseUrl,
    API_NAMESPACE,
    endPoint
  );

  let response: Response;
  try {
    response = await ServerConnection.makeRequest(
      requestUrl,
      init,
      serverSettings
    );
  } catch (error) {
    throw new ServerConnection.NetworkError(error as TypeError);
  }

  const text = await response.text();
  let body: unknown = text;
  if (text.length > 0) {
    try {
      body = JSON.parse(text);
    } catch {
      // Not JSON (e.g. the HTML page of a 404 from a server without the
      // workbench extension): keep the text.
    }
  }

  if (!response.ok) {
    throw new APIError(response, body);
  }
  return body as T;
}

/**
 * The `message` field of an error body, if it has one.
 */
export function messageOf(body: unknown): string | null {
  if (typeof body === 'object' && body !== null && 'message' in body) {
    const message = (body as { message: unknown }).message;
    if (typeof message === 'string' && message.length > 0) {
      return message;
    }
  }
  return null;
}

/**
 * The path of an endpoint with its query string; parameters that are
 * undefined, null or empty are left out.
 *
 * @param endPoint Path below `/workbench/api/`, e.g. `catalog/search`.
 * @param params Query parameters.
 */
export function withQuery(
  endPoint: string,
  params: { [key: string]: string | number | boolean | null | undefined }
): string {
  const kept: { [key: string]: string } = {};
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') {
      kept[key] = String(value);
    }
  }
  return endPoint + URLExt.objectToQueryString(kept);
}

/**
 * One sentence saying why a request failed, for the notification area: the
 * server's own message when it sent one.
 */
export function describeError(
  error: unknown,
  trans: TranslationBundle = nullTranslator.load('workbench')
): string {
  if (error instanceof APIError) {
    return (
      messageOf(error.body) ??
      trans.__('the workbench API answered HTTP %1', error.status)
    );
  }
  if (error instanceof ServerConnection.NetworkError) {
    return trans.__(
      'no answer from the Jupyter server; check that it is running and reload the page'
    );
  }
  if (error instanceof Error) {
    return error.message;
  }
  return String(error);
}
