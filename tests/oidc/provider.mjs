// A real OpenID Connect provider for tests/test_oidc.py: node-oidc-provider (OpenID Certified), on
// loopback, with one client (yiwang) and the accounts the test gives it.
//
//   node provider.mjs CONFIG.json
//
// CONFIG: {"port", "client_id", "client_secret", "redirect_uri", "post_logout_redirect_uri",
//          "scopes": {scope: [claim, …]},
//          "accounts": {login: {claim: value, …}}}. A login's name is its `sub`.
// Prints "ready <issuer>" on stdout once it listens. The signing key is a fresh RSA key each start
// (RS256, published at /jwks), so the relying party can only trust the ID token through the JWKS.
// The login and consent pages are the library's devInteractions: any password is accepted for a
// known login, which is fine for a test and nothing else.
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';

import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const issuer = `http://127.0.0.1:${config.port}`;
const key = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });

const provider = new Provider(issuer, {
  clients: [{
    client_id: config.client_id,
    client_secret: config.client_secret,
    redirect_uris: [config.redirect_uri],
    // Where the provider sends the browser back after RP-initiated logout (yiwang's home page).
    post_logout_redirect_uris: config.post_logout_redirect_uri ? [config.post_logout_redirect_uri] : [],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    id_token_signed_response_alg: 'RS256',
  }],
  jwks: { keys: [{ ...key, kid: 'test-rs256', alg: 'RS256', use: 'sig' }] },
  scopes: Object.keys(config.scopes),
  claims: config.scopes,
  async findAccount(ctx, id) {
    const claims = config.accounts[id];
    if (!claims) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...claims }; } };
  },
  cookies: { keys: [key.d.slice(0, 32)] },
  features: { devInteractions: { enabled: true } },
  pkce: { required: () => true },
  ttl: { Session: 600, Interaction: 600, Grant: 600, AccessToken: 600, AuthorizationCode: 60, IdToken: 600 },
});

const server = provider.listen(config.port, '127.0.0.1', () => {
  console.log(`ready ${issuer}`);
});
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
