import { describe, expect, it } from 'vitest';
import {
  APP_BODY,
  appConf,
  clientProxyConf,
  serverProxyConf,
  TLS_SERVER_NAME,
} from '../../../bench/nginx-conf.ts';

const tls = { ca: '/t/ca.crt', cert: '/t/x.crt', key: '/t/x.key' };

describe('nginx configurations', () => {
  it('keeps every instance in its own directory, in the foreground, with one worker', () => {
    const c = appConf({ dir: '/t/app' }, 8080);
    expect(c).toContain('daemon off;');
    expect(c).toContain('worker_processes 1;');
    expect(c).toContain('pid /t/app/nginx.pid;');
    for (const line of c.split('\n').filter((l) => /_path |error_log/.test(l))) {
      expect(line).toContain('/t/app/');
    }
    expect(c).toContain(`return 200 "${APP_BODY}";`);
  });

  it('app: every address by default, one when given', () => {
    expect(appConf({ dir: '/t/app' }, 8080)).toContain('listen 8080;');
    expect(appConf({ dir: '/t/app' }, 8080, '127.0.0.1')).toContain('listen 127.0.0.1:8080;');
  });

  it('client side: plain HTTP on loopback, mutual TLS 1.3 upstream with the server verified', () => {
    const c = clientProxyConf({ dir: '/t/c' }, 8081, '10.244.2.4:8443', tls);
    expect(c).toContain('listen 127.0.0.1:8081;');
    expect(c).toContain('server 10.244.2.4:8443;');
    expect(c).toContain('proxy_pass https://server_side;');
    expect(c).toContain('proxy_ssl_protocols TLSv1.3;');
    expect(c).toContain('proxy_ssl_certificate /t/x.crt;');
    expect(c).toContain('proxy_ssl_verify on;');
    expect(c).toContain(`proxy_ssl_name ${TLS_SERVER_NAME};`);
    // Connections to the server side are reused, as weft's HBONE pool is.
    expect(c).toContain('keepalive 64;');
    expect(c).toContain('proxy_set_header Connection "";');
  });

  it('server side: a client certificate is required', () => {
    const c = serverProxyConf({ dir: '/t/s' }, 8443, 8080, tls);
    expect(c).toContain('listen 8443 ssl;');
    expect(c).toContain('ssl_verify_client on;');
    expect(c).toContain('ssl_client_certificate /t/ca.crt;');
    expect(c).toContain('ssl_protocols TLSv1.3;');
    expect(c).toContain('server 127.0.0.1:8080;');
  });
});
