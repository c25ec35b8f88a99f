import { errors } from '../../core/errors.ts';

/**
 * An error with an HTTP status. Throw one from a handler to answer the caller with that
 * status and message; the caller's client function rejects with an HttpError just like it.
 * Any other error a handler throws becomes a 500 whose message hides the internal text.
 */
export class HttpError extends Error {
  readonly status: number;

  constructor(status: number, message: string, options?: ErrorOptions) {
    super(message, options);
    if (!Number.isInteger(status) || status < 400 || status > 599) {
      throw errors.invalidHttpStatus(status);
    }
    this.name = 'HttpError';
    this.status = status;
  }
}
