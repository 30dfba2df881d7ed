import { describe, expect, it } from 'vitest';
import { RevocationList } from '../src/RevocationList';

describe('RevocationList', () => {
  it('refuses tokens of the subject issued up to the revocation second, not later ones or other subjects', () => {
    const list = new RevocationList(900);
    const now = 1_000_000_500; // ms
    list.revoke('key-1', now);
    expect(list.isRevoked({ subject: 'key-1', issuedAt: 999_000 })).toBe(true);
    expect(list.isRevoked({ subject: 'key-1', issuedAt: 1_000_000 })).toBe(true); // same second
    expect(list.isRevoked({ subject: 'key-1', issuedAt: 1_000_001 })).toBe(false);
    expect(list.isRevoked({ subject: 'key-1', issuedAt: undefined })).toBe(true);
    expect(list.isRevoked({ subject: 'key-2', issuedAt: 999_000 })).toBe(false);
  });

  it('forgets entries once no token they could refuse is still valid', () => {
    const list = new RevocationList(60);
    list.revoke('old', 1_000_000_000);
    list.revoke('new', 1_000_061_000); // 61 s later: 'old' is past its 60 s
    expect(list.isRevoked({ subject: 'old', issuedAt: 999_999 })).toBe(false);
    expect(list.isRevoked({ subject: 'new', issuedAt: 1_000_000 })).toBe(true);
  });

  it('a second revocation of the same subject moves its moment forward', () => {
    const list = new RevocationList(900);
    list.revoke('u', 1_000_000_000);
    list.revoke('u', 1_000_010_000);
    expect(list.isRevoked({ subject: 'u', issuedAt: 1_000_005 })).toBe(true);
  });
});
