// Alerts: leak revoked, honeytoken used, token expiring or auto-disabled,
// audit loss — logged and delivered to signed webhooks, with delivery status kept.
export { Alerts, RECENT_DELIVERIES, type AlertRaiser, type AlertHandle, type AlertWebhook, type AlertDelivery, type AlertsOptions, type AlertKind } from './alerts.js';
export { alertsFromConfig } from './from-config.js';
