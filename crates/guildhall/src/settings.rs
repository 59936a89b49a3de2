//! Settings: defaults, then a TOML file (`--config`), then `GUILDHALL_*`
//! environment variables (`__` nests: `GUILDHALL_ARGON2__MEMORY_KIB`), then
//! command-line flags. Secrets may come from files (`*_file` keys), and are
//! redacted in `Debug` output so they never reach a log.

use guildhall_app::external::ConfiguredProvider;
use guildhall_core::identities::{
    ClaimMapping, ClientAuth, PRESETS, Protocol, ProviderConfig, ProviderName, parse_upstream_url, preset,
};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// A secret string: `Debug` prints `<redacted>`.
#[derive(Clone, Deserialize, Default, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Argon2id cost (SPEC §1 defaults: 19 MiB, 2 passes, 1 lane).
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct Argon2Settings {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes over memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for Argon2Settings {
    fn default() -> Self {
        Self { memory_kib: 19 * 1024, iterations: 2, parallelism: 1 }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Address and port to listen on.
    pub listen: SocketAddr,
    /// Folder for the embedded SQLite database and the mail outbox.
    pub data_dir: PathBuf,
    /// The URL people and products reach this server at. Default: `http://<listen>`.
    pub public_url: Option<String>,
    /// `sqlite://PATH` or `postgres://…`. Default: SQLite in `data_dir`.
    pub database_url: Option<Secret>,
    /// A file holding `database_url` (for secrets managers).
    pub database_url_file: Option<PathBuf>,
    /// `smtp://host:port` (plain), `smtp://host:587?tls=required` (STARTTLS) or
    /// `smtps://user:pass@host:465`. Unset: mail only goes to the outbox folder.
    pub smtp_url: Option<Secret>,
    /// A file holding `smtp_url`.
    pub smtp_url_file: Option<PathBuf>,
    /// The master key (64 hex characters) that seals private signing keys.
    /// Every node of one deployment needs the same. Default: read from (or,
    /// on first start, created in) `DATA_DIR/master.key`.
    pub master_key: Option<Secret>,
    /// A file holding `master_key`.
    pub master_key_file: Option<PathBuf>,
    /// Days between signing-key rotations (1 to 365).
    pub key_rotation_days: u64,
    /// Seconds between runs of the linking-deadline job (1 to 3600).
    pub linking_job_interval_secs: u64,
    /// The From: header of outgoing mail.
    pub mail_from: String,
    /// Password hashing cost.
    pub argon2: Argon2Settings,
    /// Minimum password length in characters.
    pub password_min_length: usize,
    /// Session lifetime in hours.
    pub session_hours: u64,
    /// How often, in milliseconds, the change feed is read (ADR 0006): the
    /// longest a change made by another node or the CLI goes unseen here.
    pub follow_interval_ms: u64,
    /// The DNS server (IP:PORT) that domain verification asks; default the
    /// system's resolver.
    pub dns_resolver: Option<SocketAddr>,
    /// Take the client address from `X-Forwarded-For` (only behind a proxy).
    pub trust_forwarded_for: bool,
    /// `text` or `json` logs.
    pub log_format: String,
    /// Let organizations configure identity providers on loopback http
    /// (local development and tests only). Off: they must be public https.
    pub org_idp_allow_loopback: bool,
    /// How often, in milliseconds, this server looks for webhook deliveries
    /// to send (new events, retries that came due); writes made here wake
    /// it sooner. 10 to 60000.
    pub webhook_poll_ms: u64,
    /// Let webhook endpoints be on loopback http (local development and
    /// tests only). Off: they must be public https.
    pub webhooks_allow_loopback: bool,
    /// How many days a finished webhook delivery (succeeded or given up)
    /// stays in the delivery log before it is deleted. 1 to 3650.
    pub webhook_delivery_retention_days: u64,
    /// How often, in milliseconds, this server looks for SCIM provisioning
    /// connections to sync (new events, retries that came due, "sync now").
    /// 100 to 600000.
    pub provisioning_poll_ms: u64,
    /// Let SCIM provisioning connections point at loopback http (local
    /// development and tests only). Off: they must be public https.
    pub provisioning_allow_loopback: bool,
    /// External identity providers for "Continue with …", by name
    /// (`[providers.github]`). More can be added at run time with
    /// `guildhall admin provider add`.
    pub providers: BTreeMap<String, ProviderSettings>,
}

/// One external identity provider: a preset plus the client's id and
/// secret, or an OpenID Connect issuer, or an OAuth 2.0 provider's
/// endpoints and user-info mapping. Register
/// `PUBLIC_URL/auth/NAME/callback` as its redirect URI.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct ProviderSettings {
    /// `github`, `gitlab` or `bitbucket`.
    pub preset: Option<String>,
    /// An OpenID Connect issuer URL (also a self-managed GitLab's).
    pub issuer: Option<String>,
    /// OAuth 2.0: where people authorize.
    pub authorize_url: Option<String>,
    /// OAuth 2.0: where codes become tokens.
    pub token_url: Option<String>,
    /// OAuth 2.0: the user-info document.
    pub userinfo_url: Option<String>,
    /// OAuth 2.0: JSON pointers into user-info: `subject` (required),
    /// `email`, `email_verified` (a pointer or `true`), `name`, `username`.
    pub mapping: Option<ClaimMapping>,
    /// OAuth 2.0: `client_secret_basic` (default) or `client_secret_post`.
    pub client_auth: Option<ClientAuth>,
    /// Shown as "Continue with …". Default: the preset's, else the name.
    pub display_name: Option<String>,
    /// Scopes to request. Default: the preset's.
    pub scopes: Option<Vec<String>>,
    pub client_id: String,
    pub client_secret: Option<Secret>,
    /// A file holding `client_secret`.
    pub client_secret_file: Option<PathBuf>,
}

impl ProviderSettings {
    /// The provider's configuration, checked.
    pub fn to_config(&self, name: &str) -> anyhow::Result<ProviderConfig> {
        let bad = |e: &str| anyhow::anyhow!("provider {name}: {e}");
        let url = |what: &str, v: &Option<String>| -> anyhow::Result<url::Url> {
            let v = v.as_deref().ok_or_else(|| bad(&format!("{what} is required")))?;
            parse_upstream_url(v).map_err(|e| bad(&format!("{what}: {e}")))
        };
        let mut config = match (&self.preset, &self.issuer) {
            (Some(p), _) => preset(p, &self.client_id)
                .ok_or_else(|| bad(&format!("unknown preset {p:?}; choose one of {}", PRESETS.join(", "))))?,
            (None, Some(_)) => ProviderConfig {
                display_name: name.to_owned(),
                client_id: self.client_id.clone(),
                scopes: vec!["openid".into(), "email".into(), "profile".into()],
                protocol: Protocol::Oidc { issuer: url("issuer", &self.issuer)? },
            },
            (None, None) => ProviderConfig {
                display_name: name.to_owned(),
                client_id: self.client_id.clone(),
                scopes: Vec::new(),
                protocol: Protocol::Oauth2 {
                    authorize_url: url("authorize_url", &self.authorize_url)?,
                    token_url: url("token_url", &self.token_url)?,
                    userinfo_url: url("userinfo_url", &self.userinfo_url)?,
                    emails: None,
                    mapping: self.mapping.clone().ok_or_else(|| bad("mapping (at least subject) is required"))?,
                    client_auth: self.client_auth.unwrap_or_default(),
                },
            },
        };
        if self.preset.is_some()
            && let (Some(_), Protocol::Oidc { issuer }) = (&self.issuer, &mut config.protocol)
        {
            *issuer = url("issuer", &self.issuer)?;
        }
        if let Some(d) = &self.display_name {
            config.display_name.clone_from(d);
        }
        if let Some(s) = &self.scopes {
            config.scopes.clone_from(s);
        }
        config.validate().map_err(bad)?;
        Ok(config)
    }

    pub fn client_secret(&self, name: &str) -> anyhow::Result<String> {
        let secret = match (&self.client_secret, &self.client_secret_file) {
            (Some(s), _) => s.0.clone(),
            (None, Some(f)) => read_secret(f)?,
            (None, None) => String::new(),
        };
        anyhow::ensure!(!secret.is_empty(), "provider {name}: client_secret (or client_secret_file) is required");
        Ok(secret)
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("guildhall-data"),
            public_url: None,
            database_url: None,
            database_url_file: None,
            smtp_url: None,
            smtp_url_file: None,
            master_key: None,
            master_key_file: None,
            key_rotation_days: 30,
            linking_job_interval_secs: 60,
            mail_from: "Guildhall <guildhall@localhost>".to_owned(),
            argon2: Argon2Settings::default(),
            password_min_length: 8,
            session_hours: 14 * 24,
            follow_interval_ms: 100,
            dns_resolver: None,
            trust_forwarded_for: false,
            log_format: "text".to_owned(),
            org_idp_allow_loopback: false,
            webhook_poll_ms: 1000,
            webhooks_allow_loopback: false,
            webhook_delivery_retention_days: 30,
            provisioning_poll_ms: 5000,
            provisioning_allow_loopback: false,
            providers: BTreeMap::new(),
        }
    }
}

/// Flags that override the file and the environment.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub config: Option<PathBuf>,
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub public_url: Option<String>,
    pub database_url: Option<Secret>,
    pub smtp_url: Option<Secret>,
    pub dns_resolver: Option<SocketAddr>,
}

impl Settings {
    /// Loads settings in order: defaults, file, environment, flags.
    pub fn load(o: &Overrides) -> anyhow::Result<Self> {
        let mut builder = config::Config::builder();
        if let Some(path) = &o.config {
            anyhow::ensure!(path.exists(), "config file {} does not exist", path.display());
            builder = builder.add_source(config::File::from(path.as_path()).format(config::FileFormat::Toml));
        }
        builder = builder.add_source(
            config::Environment::with_prefix("GUILDHALL").prefix_separator("_").separator("__").try_parsing(true),
        );
        let mut s: Settings = builder
            .build()
            .and_then(config::Config::try_deserialize)
            .map_err(|e| anyhow::anyhow!("invalid settings: {e}"))?;
        if let Some(v) = o.listen {
            s.listen = v;
        }
        if let Some(v) = &o.data_dir {
            s.data_dir.clone_from(v);
        }
        if let Some(v) = &o.public_url {
            s.public_url = Some(v.clone());
        }
        if let Some(v) = &o.database_url {
            s.database_url = Some(v.clone());
        }
        if let Some(v) = &o.smtp_url {
            s.smtp_url = Some(v.clone());
        }
        if let Some(v) = o.dns_resolver {
            s.dns_resolver = Some(v);
        }
        if let Some(f) = s.database_url_file.take() {
            s.database_url.get_or_insert(Secret(read_secret(&f)?));
        }
        if let Some(f) = s.smtp_url_file.take() {
            s.smtp_url.get_or_insert(Secret(read_secret(&f)?));
        }
        anyhow::ensure!(s.password_min_length >= 8, "password_min_length must be at least 8");
        anyhow::ensure!(
            (10..=10_000).contains(&s.follow_interval_ms),
            "follow_interval_ms must be between 10 and 10000"
        );
        anyhow::ensure!((10..=60_000).contains(&s.webhook_poll_ms), "webhook_poll_ms must be between 10 and 60000");
        anyhow::ensure!(
            (1..=3650).contains(&s.webhook_delivery_retention_days),
            "webhook_delivery_retention_days must be between 1 and 3650"
        );
        anyhow::ensure!(
            (100..=600_000).contains(&s.provisioning_poll_ms),
            "provisioning_poll_ms must be between 100 and 600000"
        );
        anyhow::ensure!((1..=365).contains(&s.key_rotation_days), "key_rotation_days must be between 1 and 365");
        anyhow::ensure!(
            (1..=3600).contains(&s.linking_job_interval_secs),
            "linking_job_interval_secs must be between 1 and 3600"
        );
        anyhow::ensure!(matches!(s.log_format.as_str(), "text" | "json"), "log_format must be text or json");
        s.configured_providers()?;
        Ok(s)
    }

    /// The database URL in effect.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.0.clone(),
            None => format!("sqlite://{}", self.data_dir.join("guildhall.db").display()),
        }
    }

    /// The master key in effect: configured, or `DATA_DIR/master.key`
    /// (made with 256 random bits, readable by this user only, on first use).
    pub fn master_key(&self) -> anyhow::Result<[u8; 32]> {
        let text = match (&self.master_key, &self.master_key_file) {
            (Some(k), _) => k.0.clone(),
            (None, Some(f)) => read_secret(f)?,
            (None, None) => {
                let path = self.data_dir.join("master.key");
                if !path.exists() {
                    let mut key = [0u8; 32];
                    rand::fill(&mut key);
                    write_private(&path, &hex::encode(key))?;
                }
                read_secret(&path)?
            }
        };
        let bytes = hex::decode(text.trim()).ok().and_then(|b| <[u8; 32]>::try_from(b).ok());
        bytes.ok_or_else(|| anyhow::anyhow!("master_key must be 64 hex characters (32 bytes)"))
    }

    /// The config file's providers, checked, with their secrets.
    pub fn configured_providers(&self) -> anyhow::Result<Vec<ConfiguredProvider>> {
        self.providers
            .iter()
            .map(|(name, p)| {
                Ok(ConfiguredProvider {
                    name: ProviderName::parse(name).map_err(|e| anyhow::anyhow!("provider {name:?}: {e}"))?,
                    config: p.to_config(name)?,
                    client_secret: p.client_secret(name)?,
                })
            })
            .collect()
    }

    pub fn outbox_dir(&self) -> PathBuf {
        self.data_dir.join("outbox")
    }
}

/// Creates a file readable and writable by this user only.
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(path).map_err(|e| anyhow::anyhow!("cannot create {}: {e}", path.display()))?;
    f.write_all(text.as_bytes()).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))
}

fn read_secret(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("guildhall.toml");
        std::fs::write(&file, "listen = \"127.0.0.1:9999\"\ndata_dir = \"/tmp/x\"\n[argon2]\nmemory_kib = 4096\n")
            .unwrap();
        let s = Settings::load(&Overrides { config: Some(file.clone()), ..Default::default() }).unwrap();
        assert_eq!(s.listen.port(), 9999);
        assert_eq!(s.argon2.memory_kib, 4096);
        assert_eq!(s.argon2.iterations, 2);
        let o = Overrides { config: Some(file), data_dir: Some("/tmp/y".into()), ..Default::default() };
        assert_eq!(Settings::load(&o).unwrap().data_dir, PathBuf::from("/tmp/y"));
    }

    #[test]
    fn providers_come_from_presets_issuers_or_endpoints_and_bad_ones_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("guildhall.toml");
        let secret = dir.path().join("gl.secret");
        std::fs::write(&secret, "s3\n").unwrap();
        std::fs::write(
            &file,
            format!(
                r#"
[providers.github]
preset = "github"
client_id = "gh-id"
client_secret = "gh-secret"

[providers.gitlab]
preset = "gitlab"
issuer = "https://gitlab.example.com"
client_id = "gl-id"
client_secret_file = "{}"

[providers.corp]
display_name = "Corp SSO"
issuer = "https://sso.corp.example"
client_id = "c"
client_secret = "cs"

[providers.forge]
authorize_url = "https://forge.example/oauth/authorize"
token_url = "https://forge.example/oauth/token"
userinfo_url = "https://forge.example/api/user"
client_auth = "client_secret_post"
client_id = "f"
client_secret = "fs"
[providers.forge.mapping]
subject = "/id"
email = "/email"
email_verified = true
"#,
                secret.display()
            ),
        )
        .unwrap();
        let s = Settings::load(&Overrides { config: Some(file.clone()), ..Default::default() }).unwrap();
        let providers = s.configured_providers().unwrap();
        let by = |n: &str| providers.iter().find(|p| p.name.as_str() == n).unwrap();
        assert_eq!(by("github").config.display_name, "GitHub");
        assert_eq!(by("github").client_secret, "gh-secret");
        assert_eq!(by("gitlab").client_secret, "s3");
        assert!(matches!(&by("gitlab").config.protocol,
            Protocol::Oidc { issuer } if issuer.as_str() == "https://gitlab.example.com/"));
        assert_eq!(by("corp").config.scope_param(), "openid email profile");
        let Protocol::Oauth2 { mapping, client_auth, .. } = &by("forge").config.protocol else { panic!() };
        assert_eq!(mapping.email_verified, Some(guildhall_core::identities::Verified::Always(true)));
        assert_eq!(*client_auth, ClientAuth::ClientSecretPost);
        assert!(!format!("{s:?}").contains("gh-secret"));

        for (text, says) in [
            ("[providers.x]\npreset = \"myspace\"\nclient_id = \"a\"\nclient_secret = \"b\"", "unknown preset"),
            ("[providers.x]\nissuer = \"http://idp.example\"\nclient_id = \"a\"\nclient_secret = \"b\"", "https"),
            ("[providers.x]\npreset = \"github\"\nclient_id = \"a\"", "client_secret"),
            ("[providers.x]\npreset = \"github\"\nclient_secret = \"b\"", "client id"),
            ("[providers.x]\nauthorize_url = \"https://a\"\nclient_id = \"a\"\nclient_secret = \"b\"", "token_url"),
            ("[providers.org-x]\npreset = \"github\"\nclient_id = \"a\"\nclient_secret = \"b\"", "reserved"),
        ] {
            std::fs::write(&file, text).unwrap();
            let err = Settings::load(&Overrides { config: Some(file.clone()), ..Default::default() }).unwrap_err();
            assert!(err.to_string().contains(says), "{text}: {err}");
        }
    }

    #[test]
    fn the_example_config_loads_and_says_the_defaults() {
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/guildhall.example.toml");
        let s = Settings::load(&Overrides { config: Some(file), ..Default::default() }).unwrap();
        let d = Settings::default();
        assert_eq!((s.listen, s.org_idp_allow_loopback, s.argon2.memory_kib), (d.listen, false, d.argon2.memory_kib));
        assert_eq!((s.webhook_poll_ms, s.webhooks_allow_loopback), (d.webhook_poll_ms, false));
        assert_eq!(s.webhook_delivery_retention_days, d.webhook_delivery_retention_days);
        assert_eq!((s.provisioning_poll_ms, s.provisioning_allow_loopback), (d.provisioning_poll_ms, false));
        assert!(s.providers.is_empty());
    }

    #[test]
    fn a_missing_config_file_is_an_error() {
        let o = Overrides { config: Some("/nonexistent/guildhall.toml".into()), ..Default::default() };
        assert!(Settings::load(&o).is_err());
    }

    #[test]
    fn secrets_are_redacted_in_debug_output() {
        let s = Settings { smtp_url: Some(Secret("smtp://user:hunter2@mail".into())), ..Default::default() };
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn out_of_range_intervals_and_bad_master_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("guildhall.toml");
        for (text, says) in [
            ("follow_interval_ms = 5", "follow_interval_ms"),
            ("key_rotation_days = 0", "key_rotation_days"),
            ("linking_job_interval_secs = 7200", "linking_job_interval_secs"),
            ("webhook_poll_ms = 0", "webhook_poll_ms"),
            ("webhook_delivery_retention_days = 0", "webhook_delivery_retention_days"),
        ] {
            std::fs::write(&file, text).unwrap();
            let err = Settings::load(&Overrides { config: Some(file.clone()), ..Default::default() }).unwrap_err();
            assert!(err.to_string().contains(says), "{text}: {err}");
        }
        let s = Settings { master_key: Some(Secret("not hex".into())), ..Default::default() };
        assert!(s.master_key().unwrap_err().to_string().contains("64 hex"));
        // Unset: made once in the data dir, then read back the same.
        let s = Settings { data_dir: dir.path().to_path_buf(), ..Default::default() };
        assert_eq!(s.master_key().unwrap(), s.master_key().unwrap());
    }
}
