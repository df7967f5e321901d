// The forward-auth adapter: nginx auth_request, Caddy forward_auth, Traefik
// forwardAuth and Envoy ext_authz (HTTP) ask it whether a request may pass.
export { startForwardAuth, type ForwardAuthEndpoint, type ForwardAuthOptions } from './endpoint.js';
