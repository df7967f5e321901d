// Configuration, durations and server keys: everything read once at start,
// validated with clear errors, then handed on as typed values.
export { loadConfig, parseListenAddress, ConfigError, type LatchkeyConfig, type ConfigOverrides, type ListenAddress } from './config.js';
export { parseDuration, formatDuration, parseRate } from './durations.js';
export { loadTokenHasher, ensureDataDir, KeyError, TOKEN_KEY_FILE } from './keys.js';
export { ALERT_KINDS, type AlertKind, type AlertsConfig, type AlertWebhookConfig, type LeaksConfig } from './leak-response.js';
export { LIFECYCLE_DEFAULTS, type LifecycleConfig } from './lifecycle.js';
export { LATCHKEY_VERSION } from './version.js';
