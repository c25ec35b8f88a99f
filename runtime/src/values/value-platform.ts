/** What build-time values need of the platform the app runs on: their value in this process. */
import { platformOf, type App } from '../core/app.ts';
import type { Platform } from '../core/platform.ts';
import type { BuildTimeValue } from './build-time-value.ts';

export interface ValuePlatform extends Platform {
  /** The value of a build-time value or secret in this process. */
  value<T>(value: BuildTimeValue<any>): T;
}

/** The platform `app` runs on, as values use it (every mode's platform is one). */
export const valuePlatform = (app: App) => platformOf(app) as ValuePlatform;
