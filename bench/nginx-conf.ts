// nginx configurations the benchmark runs, one instance each, all in pods:
// the HTTP app (a fixed body), and the mTLS reverse-proxy pair a user might
// put in front of it instead of a mesh (client side originates mutual TLS 1.3,
// server side terminates it and forwards to the app on its loopback). Pure.

export interface NginxFiles {
  /** Directory for the pid file, logs and temp paths of this instance. */
  dir: string;
}

/** The body the app answers every request with. */
export const APP_BODY = 'weft bench: the same fixed body for every request, on every path.';

/** Server name in the server certificate, checked by the client side. */
export const TLS_SERVER_NAME = 'server.bench.internal';

export interface TlsFiles {
  ca: string;
  cert: string;
  key: string;
}

// One worker per instance, like weft's one proxy process per node; connections
// kept open for the whole run, so every row measures steady traffic.
function wrap(f: NginxFiles, http: string): string {
  return `worker_processes 1;
daemon off;
master_process on;
user root;
pid ${f.dir}/nginx.pid;
error_log ${f.dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 300s;
  client_body_temp_path ${f.dir}/client-body;
  proxy_temp_path ${f.dir}/proxy;
  fastcgi_temp_path ${f.dir}/fastcgi;
  uwsgi_temp_path ${f.dir}/uwsgi;
  scgi_temp_path ${f.dir}/scgi;
${http}
}
`;
}

/** The app on `port` of every address, or of `host` only. */
export function appConf(f: NginxFiles, port: number, host?: string): string {
  return wrap(
    f,
    `  server {
    listen ${host ? `${host}:` : ''}${port};
    default_type text/plain;
    location / { return 200 ${JSON.stringify(APP_BODY)}; }
  }`,
  );
}

const upstreamKeepalive =
  'keepalive 64;\n    keepalive_requests 1000000;\n    keepalive_timeout 300s;';
const proxyKeepalive = 'proxy_http_version 1.1;\n      proxy_set_header Connection "";';

/** Client side: plain HTTP on the client pod's loopback, mutual TLS 1.3 to the server side. */
export function clientProxyConf(
  f: NginxFiles,
  listenPort: number,
  upstream: string,
  tls: TlsFiles,
): string {
  return wrap(
    f,
    `  upstream server_side {
    server ${upstream};
    ${upstreamKeepalive}
  }
  server {
    listen 127.0.0.1:${listenPort};
    location / {
      proxy_pass https://server_side;
      ${proxyKeepalive}
      proxy_ssl_protocols TLSv1.3;
      proxy_ssl_certificate ${tls.cert};
      proxy_ssl_certificate_key ${tls.key};
      proxy_ssl_trusted_certificate ${tls.ca};
      proxy_ssl_verify on;
      proxy_ssl_name ${TLS_SERVER_NAME};
      proxy_ssl_session_reuse on;
    }
  }`,
  );
}

/** Server side: terminates mutual TLS 1.3 (client certificate required) and forwards to the app. */
export function serverProxyConf(
  f: NginxFiles,
  listenPort: number,
  appPort: number,
  tls: TlsFiles,
): string {
  return wrap(
    f,
    `  upstream app {
    server 127.0.0.1:${appPort};
    ${upstreamKeepalive}
  }
  server {
    listen ${listenPort} ssl;
    ssl_protocols TLSv1.3;
    ssl_certificate ${tls.cert};
    ssl_certificate_key ${tls.key};
    ssl_client_certificate ${tls.ca};
    ssl_verify_client on;
    location / {
      proxy_pass http://app;
      ${proxyKeepalive}
    }
  }`,
  );
}
