/*
** wfs_hash.c: SHA-256 (FIPS 180-4), for names derived from secrets.
**
** A rate budget is shared by every client of one account, in the process,
** across nginx workers and through Redis; its key must tell accounts apart
** without carrying the credential. A non-cryptographic hash of an API key
** would do the first and leak the second to anyone who can read the dict or
** the Redis keys, so the key holds a prefix of the key's SHA-256 instead.
** Small enough to carry here rather than link OpenSSL for it.
*/
#include <stdint.h>
#include <string.h>
#include "wfs_core.h"

typedef struct hash_state {
  uint32_t h[8];
  unsigned char block[64];
  size_t used;               /* bytes in block */
  uint64_t bits;             /* message length so far */
} hash_state;

static const uint32_t hash_k[64] = {
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
};

#define HASH_ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void hash_block(hash_state *s, const unsigned char *p) {
  uint32_t w[64], a, b, c, d, e, f, g, h, t1, t2;
  int i;
  for (i = 0; i < 16; i++)
    w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
           (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
  for (i = 16; i < 64; i++) {
    uint32_t s0 = HASH_ROR(w[i - 15], 7) ^ HASH_ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
    uint32_t s1 = HASH_ROR(w[i - 2], 17) ^ HASH_ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  a = s->h[0]; b = s->h[1]; c = s->h[2]; d = s->h[3];
  e = s->h[4]; f = s->h[5]; g = s->h[6]; h = s->h[7];
  for (i = 0; i < 64; i++) {
    t1 = h + (HASH_ROR(e, 6) ^ HASH_ROR(e, 11) ^ HASH_ROR(e, 25)) + ((e & f) ^ (~e & g)) + hash_k[i] + w[i];
    t2 = (HASH_ROR(a, 2) ^ HASH_ROR(a, 13) ^ HASH_ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    h = g; g = f; f = e; e = d + t1;
    d = c; c = b; b = a; a = t1 + t2;
  }
  s->h[0] += a; s->h[1] += b; s->h[2] += c; s->h[3] += d;
  s->h[4] += e; s->h[5] += f; s->h[6] += g; s->h[7] += h;
}

static void hash_update(hash_state *s, const unsigned char *p, size_t n) {
  s->bits += (uint64_t)n * 8;
  while (n > 0) {
    size_t take = 64 - s->used;
    if (take > n)
      take = n;
    memcpy(s->block + s->used, p, take);
    s->used += take;
    p += take;
    n -= take;
    if (s->used == 64) {
      hash_block(s, s->block);
      s->used = 0;
    }
  }
}

static void hash_final(hash_state *s, unsigned char out[32]) {
  uint64_t bits = s->bits;
  unsigned char pad[72];
  size_t padlen = (s->used < 56) ? 56 - s->used : 120 - s->used;
  int i;
  memset(pad, 0, sizeof(pad));
  pad[0] = 0x80;
  for (i = 0; i < 8; i++)
    pad[padlen + i] = (unsigned char)(bits >> (56 - 8 * i));
  hash_update(s, pad, padlen + 8);
  for (i = 0; i < 8; i++) {
    out[4 * i] = (unsigned char)(s->h[i] >> 24);
    out[4 * i + 1] = (unsigned char)(s->h[i] >> 16);
    out[4 * i + 2] = (unsigned char)(s->h[i] >> 8);
    out[4 * i + 3] = (unsigned char)s->h[i];
  }
}

/***
The SHA-256 of a string, as 64 lower-case hex digits.
@function sha256
@tparam string s
@treturn string
*/
static int hash_lsha256(lua_State *L) {
  static const uint32_t init[8] = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19
  };
  static const char hex[] = "0123456789abcdef";
  size_t n;
  const char *p = luaL_checklstring(L, 1, &n);
  hash_state s;
  unsigned char digest[32];
  char text[64];
  int i;
  memcpy(s.h, init, sizeof(init));
  s.used = 0;
  s.bits = 0;
  hash_update(&s, (const unsigned char *)p, n);
  hash_final(&s, digest);
  for (i = 0; i < 32; i++) {
    text[2 * i] = hex[digest[i] >> 4];
    text[2 * i + 1] = hex[digest[i] & 15];
  }
  lua_pushlstring(L, text, sizeof(text));
  return 1;
}

static const luaL_Reg hash_funcs[] = {
  {"sha256", hash_lsha256},
  {NULL, NULL}
};

void wfs_hash_open(lua_State *L) {
  luaL_setfuncs(L, hash_funcs, 0);
}
