//! A real OpenID Connect provider for the tests: `tests/web/oidc.mjs` (the npm package
//! `oidc-provider`) on a free loopback port, issuing JWT access tokens by the client
//! credentials grant with the claims each test client is given.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

pub struct Provider {
    child: Child,
    pub issuer: String,
}

const SECRET: &str = "a-test-client-secret-of-enough-length-0123456789";

impl Provider {
    /// Starts the provider with these clients (`client_id`, claims of its tokens).
    pub fn start(clients: &[(&str, serde_json::Value)]) -> Self {
        let clients: Vec<_> = clients
            .iter()
            .map(|(id, claims)| {
                serde_json::json!({"client_id": id, "client_secret": SECRET, "claims": claims})
            })
            .collect();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let web = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/web");
        let mut child = Command::new("node")
            .arg(web.join("oidc.mjs"))
            .arg(port.to_string())
            .arg(serde_json::Value::Array(clients).to_string())
            .current_dir(&web)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node runs");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("the provider starts");
        let issuer = line
            .trim()
            .strip_prefix("ready ")
            .unwrap_or_else(|| panic!("the provider said `{line}`"))
            .to_string();
        Self { child, issuer }
    }

    /// An access token for the client, by the client credentials grant.
    pub async fn token(&self, client_id: &str) -> String {
        let body = format!(
            "grant_type=client_credentials&client_id={client_id}&client_secret={SECRET}&scope=luotsi&resource=urn%3Aluotsi%3Aapi"
        );
        let text = reqwest::Client::new()
            .post(format!("{}/token", self.issuer))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("the token endpoint answers")
            .text()
            .await
            .expect("an answer");
        let answer: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        answer["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no token: {answer}"))
            .to_string()
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
