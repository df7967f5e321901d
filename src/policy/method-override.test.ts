import { describe, expect, it } from 'vitest';
import { readMethodOverride } from './method-override.js';

describe('readMethodOverride', () => {
  it('is null for a request without one, whatever its query', () => {
    expect(readMethodOverride(null, '')).toBeNull();
    expect(readMethodOverride(null, '?page=2&sort=%2Bname')).toBeNull();
    expect(readMethodOverride(null, '?method=DELETE&x_method=PUT')).toBeNull();
  });

  it('reads each header and every spelling of _method a framework reads', () => {
    expect(readMethodOverride(['X-HTTP-Method-Override', ' delete '], '')).toEqual({ ok: true, method: 'DELETE', via: 'X-HTTP-Method-Override' });
    for (const query of ['?_method=DELETE', '?_METHOD=delete', '?a=1;_method=DELETE', '?%5Fmethod=DELETE', '?_%6D%65thod=DELETE', '?.method=DELETE', '?+_method=DELETE', '?_method=%44ELETE', '?_Method=DE%4CETE']) {
      expect(readMethodOverride(null, query), query).toEqual({ ok: true, method: 'DELETE', via: '?_method' });
    }
  });

  it('accepts overrides that agree, and refuses those that disagree or name no method', () => {
    expect(readMethodOverride(['X-HTTP-Method', 'PUT', 'X-Method-Override', 'put'], '?_method=PUT')).toMatchObject({ ok: true, method: 'PUT' });
    expect(readMethodOverride(['X-HTTP-Method-Override', 'DELETE, DELETE'], '')).toMatchObject({ ok: true, method: 'DELETE' });
    for (const [headers, query] of [
      [['X-HTTP-Method-Override', 'DELETE'], '?_method=PUT'],
      [['X-HTTP-Method-Override', 'DELETE, PUT'], ''],
      [['X-HTTP-Method', 'PROPFIND'], ''],
      [['X-HTTP-Method', ''], ''],
      [null, '?_method='],
      [null, '?_method'],
      [null, '?_method[]=DELETE'],
      [null, '?_method=DELETE&_method=GET'],
    ] as const) {
      expect(readMethodOverride(headers, query), `${String(headers)} ${query}`).toMatchObject({ ok: false });
    }
  });
});
