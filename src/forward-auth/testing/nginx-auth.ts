import { nginxPreamble } from '../../bench/nginx.js';

// The nginx configuration of examples/nginx.conf, rendered for loopback ports
// and a temporary directory: one service (`orders`) behind auth_request to the
// forward-auth endpoint, the gateway's refusals passed on through /refusal.

export interface NginxAuthPorts {
  readonly upstream: number;
  readonly auth: number;
  /** The service the endpoint path names. */
  readonly service: string;
}

export function nginxAuthConfig(dir: string, listen: number, ports: NginxAuthPorts): string {
  return `
${nginxPreamble(dir)}  upstream app { server 127.0.0.1:${ports.upstream}; keepalive 64; }
  upstream latchkey_auth { server 127.0.0.1:${ports.auth}; keepalive 64; }
  server {
    listen 127.0.0.1:${listen};
    if ($request !~ "^[A-Z]+ /") { return 400; }
    if ($http_host !~ "^(?:[A-Za-z0-9][A-Za-z0-9._-]{0,252}|\\[[0-9A-Fa-f:.]{2,45}\\])(?::[0-9]{1,5})?$") { return 400; }
    location / {
      auth_request /_latchkey/check;
      auth_request_set $lk_credential $upstream_http_authorization;
      auth_request_set $lk_token_id $upstream_http_x_latchkey_token_id;
      auth_request_set $lk_token_name $upstream_http_x_latchkey_token_name;
      auth_request_set $lk_env $upstream_http_x_latchkey_env;
      auth_request_set $lk_reason $upstream_http_x_latchkey_reason;
      auth_request_set $lk_detail $upstream_http_x_latchkey_detail;
      auth_request_set $lk_retry_after $upstream_http_x_latchkey_retry_after;
      error_page 401 403 500 = /_latchkey/refusal;
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Authorization $lk_credential;
      proxy_set_header X-Latchkey-Token-Id $lk_token_id;
      proxy_set_header X-Latchkey-Token-Name $lk_token_name;
      proxy_set_header X-Latchkey-Env $lk_env;
    }
    location = /_latchkey/check {
      internal;
      proxy_pass http://latchkey_auth/${ports.service};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-Method $request_method;
      proxy_set_header X-Original-URI $request_uri;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }
    location = /_latchkey/refusal {
      internal;
      proxy_pass http://latchkey_auth/refusal;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header Authorization "";
      proxy_set_header X-Latchkey-Reason $lk_reason;
      proxy_set_header X-Latchkey-Detail $lk_detail;
      proxy_set_header X-Latchkey-Retry-After $lk_retry_after;
    }
  }
}
`;
}
