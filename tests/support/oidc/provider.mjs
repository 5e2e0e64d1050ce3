// A real OpenID Connect provider for the team-mode hub tests: panva's certified
// oidc-provider (discovery, authorization code with PKCE, token, userinfo, JWKS) with
// static clients and accounts, and its interaction (login, consent) served as plain
// HTML forms, as a company's identity provider would show them.
//
//   node provider.mjs CONFIG.json
//
// CONFIG.json: {"clients": [<client metadata>], "accounts": {"<login>": {"password": ...,
// "preferred_username": ..., "name": ..., "email": ..., "groups": [...]}}}. Listens on 127.0.0.1 on a free port and
// prints one JSON line {"issuer": "http://127.0.0.1:<port>"} once it answers.

import { generateKeyPairSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';

import Provider, { errors } from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const accounts = config.accounts;

function escape(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title, body) {
  return `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${escape(title)}</title></head><body><h1>${escape(title)}</h1>${body}</body></html>`;
}

function send(res, status, html) {
  res.writeHead(status, {
    'Content-Type': 'text/html; charset=utf-8',
    'Cache-Control': 'no-store',
  });
  res.end(html);
}

async function formBody(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 64 * 1024) throw new Error('form too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function passwordMatches(account, given) {
  const a = Buffer.from(account.password, 'utf8');
  const b = Buffer.from(given || '', 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

function loginForm(uid, error) {
  return page(
    'Sign in',
    `${error ? `<p class="error">${escape(error)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}/login" autocomplete="off">
  <input type="text" name="login" placeholder="user name" required autofocus>
  <input type="password" name="password" placeholder="password" required>
  <button type="submit">Sign in</button>
</form>`,
  );
}

function consentForm(uid, clientId, scopes) {
  return page(
    'Allow access',
    `<p>${escape(clientId)} asks for: ${scopes.map(escape).join(', ')}</p>
<form method="post" action="/interaction/${escape(uid)}/confirm">
  <button type="submit">Allow</button>
</form>
<form method="post" action="/interaction/${escape(uid)}/abort">
  <button type="submit">Deny</button>
</form>`,
  );
}

// The interaction routes: /interaction/<uid>, /interaction/<uid>/{login,confirm,abort}.
async function interaction(provider, req, res) {
  const details = await provider.interactionDetails(req, res);
  const { uid, prompt, params } = details;
  const action = new URL(req.url, 'http://x').pathname.split('/')[3] || '';

  if (req.method === 'GET' && action === '') {
    if (prompt.name === 'login') return send(res, 200, loginForm(uid));
    const scopes = [...(prompt.details.missingOIDCScope || []), ...(prompt.details.missingOIDCClaims || [])];
    return send(res, 200, consentForm(uid, params.client_id, scopes));
  }
  if (req.method !== 'POST') return send(res, 405, page('Not allowed', ''));

  if (action === 'login' && prompt.name === 'login') {
    const form = await formBody(req);
    const login = form.get('login') || '';
    const account = Object.hasOwn(accounts, login) ? accounts[login] : null;
    if (!account || !passwordMatches(account, form.get('password'))) {
      return send(res, 401, loginForm(uid, 'Wrong user name or password.'));
    }
    return provider.interactionFinished(req, res, { login: { accountId: login } }, {
      mergeWithLastSubmission: false,
    });
  }
  if (action === 'confirm' && prompt.name === 'consent') {
    const { accountId } = details.session;
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId, clientId: params.client_id });
    if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
    if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(prompt.details.missingResourceScopes || {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId = await grant.save();
    return provider.interactionFinished(req, res, { consent: details.grantId ? {} : { grantId } }, {
      mergeWithLastSubmission: true,
    });
  }
  if (action === 'abort') {
    return provider.interactionFinished(req, res, {
      error: 'access_denied',
      error_description: 'the user denied access',
    }, { mergeWithLastSubmission: false });
  }
  return send(res, 400, page('Unexpected step', `<p>${escape(action)} during ${escape(prompt.name)}</p>`));
}

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const signing = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const provider = new Provider(issuer, {
    clients: config.clients,
    jwks: { keys: [{ ...signing, kid: 'test-signing', use: 'sig', alg: 'RS256' }] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    claims: {
      openid: ['sub'],
      profile: ['preferred_username', 'name'],
      email: ['email', 'email_verified'],
      groups: ['groups'],
    },
    scopes: ['openid', 'profile', 'email', 'groups'],
    features: { devInteractions: { enabled: false } },
    interactions: { url: (ctx, details) => `/interaction/${details.uid}` },
    async findAccount(ctx, id) {
      if (!Object.hasOwn(accounts, id)) return undefined;
      const account = accounts[id];
      return {
        accountId: id,
        async claims() {
          return {
            sub: id,
            preferred_username: account.preferred_username || id,
            name: account.name || id,
            email: account.email || `${id}@example.com`,
            email_verified: true,
            groups: account.groups || [],
          };
        },
      };
    },
  });
  provider.on('server_error', (ctx, error) => console.error('server_error', error));
  const callback = provider.callback();
  server.on('request', (req, res) => {
    if (req.url.startsWith('/interaction/')) {
      interaction(provider, req, res).catch((error) => {
        console.error('interaction', error);
        const status = error instanceof errors.SessionNotFound ? 400 : 500;
        if (!res.headersSent) send(res, status, page('Sign-in failed', `<p>${escape(error.message)}</p>`));
      });
    } else {
      callback(req, res);
    }
  });
  console.log(JSON.stringify({ issuer }));
});

// Nothing to flush (all state is in memory): stop at once.
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));
