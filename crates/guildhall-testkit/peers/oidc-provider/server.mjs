// The upstream identity provider of Guildhall's tests: panva's oidc-provider
// (OpenID Certified) on 127.0.0.1 with a free port.
//
// Usage: PEER_CLIENTS='[{client_id, client_secret, redirect_uris, ...}]' node server.mjs
// Prints "ready PORT" once listening.
//
// Test-only parts, all outside the provider's own protocol code:
// - GET /interaction/UID?sub=S&email=E&email_verified=true&name=N signs in
//   as S with those claims (the "person at the provider"), consent is
//   granted for every requested scope (loadExistingGrant), so a test drives
//   the whole code flow with plain HTTP requests;
// - GET /user/emails answers GitHub-style [{email, primary, verified}] for
//   the bearer of an access token, from the claims given at sign-in
//   (`emails` = JSON array), so the GitHub-style emails lookup is exercised.
import Provider from 'oidc-provider';
import http from 'node:http';

const clients = JSON.parse(process.env.PEER_CLIENTS || '[]');
const accounts = new Map();

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients,
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username'],
    },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    cookies: { keys: ['guildhall-test-peer'] },
    async findAccount(ctx, id) {
      const claims = accounts.get(id);
      if (!claims) return undefined;
      return { accountId: id, async claims() { return { sub: id, ...claims }; } };
    },
    async loadExistingGrant(ctx) {
      const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
      grant.addOIDCScope(ctx.oidc.params.scope || 'openid');
      await grant.save();
      return grant;
    },
  });
  const callback = provider.callback();

  server.on('request', async (req, res) => {
    const url = new URL(req.url, issuer);
    try {
      if (req.method === 'GET' && url.pathname.startsWith('/interaction/')) {
        await provider.interactionDetails(req, res);
        const sub = url.searchParams.get('sub');
        if (!sub) {
          res.writeHead(400).end('pass ?sub=');
          return;
        }
        const claims = {};
        for (const k of ['email', 'name', 'preferred_username']) {
          if (url.searchParams.has(k)) claims[k] = url.searchParams.get(k);
        }
        if (url.searchParams.has('email_verified')) claims.email_verified = url.searchParams.get('email_verified') === 'true';
        if (url.searchParams.has('emails')) claims.emails = JSON.parse(url.searchParams.get('emails'));
        accounts.set(sub, claims);
        await provider.interactionFinished(req, res, { login: { accountId: sub } }, { mergeWithLastSubmission: false });
        return;
      }
      if (req.method === 'GET' && url.pathname === '/user/emails') {
        const token = (req.headers.authorization || '').replace(/^Bearer /, '');
        const at = token && await provider.AccessToken.find(token);
        if (!at) {
          res.writeHead(401, { 'content-type': 'application/json' }).end('{"message":"Bad credentials"}');
          return;
        }
        const claims = accounts.get(at.accountId) || {};
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(claims.emails || []));
        return;
      }
    } catch (e) {
      res.writeHead(500).end(String(e));
      return;
    }
    callback(req, res);
  });
  console.log(`ready ${port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
