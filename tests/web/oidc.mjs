// A real OpenID Connect provider (the npm package `oidc-provider`) for the authentication tests:
// it publishes its discovery document and keys, and issues JWT access tokens by the client
// credentials grant, carrying the claims the test asks for (roles, teams, professional_id).
//
// usage: node oidc.mjs <port> '<clients JSON: [{client_id, client_secret, claims}]>'
// Prints `ready <issuer>` once it listens; serves until killed.
import Provider from "oidc-provider";

const port = Number(process.argv[2]);
const clients = JSON.parse(process.argv[3]);
const issuer = `http://127.0.0.1:${port}`;
const AUDIENCE = "urn:luotsi:api";

const provider = new Provider(issuer, {
  clients: clients.map((c) => ({
    client_id: c.client_id,
    client_secret: c.client_secret,
    grant_types: ["client_credentials"],
    redirect_uris: [],
    response_types: [],
    token_endpoint_auth_method: "client_secret_post",
  })),
  scopes: ["luotsi"],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => AUDIENCE,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: "luotsi",
        audience: AUDIENCE,
        accessTokenFormat: "jwt",
        accessTokenTTL: 600,
      }),
    },
  },
  extraTokenClaims: async (_ctx, token) =>
    clients.find((c) => c.client_id === token.clientId)?.claims ?? {},
});
provider.listen(port, "127.0.0.1", () => console.log(`ready ${issuer}`));
