//! The command line: `serve`, `migrate`, `admin …`. Global options work
//! before or after the subcommand, so admin commands act on the same
//! database as a running `serve`.

use crate::settings::{Overrides, ProviderSettings, Secret, Settings};
use crate::startup::{self, Server};
use clap::{Args, Parser, Subcommand};
use guildhall_app::AppError;
use guildhall_app::accounts::AdminCreate;
use guildhall_core::accounts::{Account, AccountStatus};
use guildhall_core::identities::{ClaimMapping, ClientAuth, Protocol, Verified};
use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "guildhall",
    version,
    about = "Guildhall: accounts, workspaces and single sign-on for a family of products"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone)]
pub struct Global {
    /// TOML settings file.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Folder for the embedded database and the mail outbox.
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// `sqlite://PATH` or `postgres://…` (default: SQLite in the data dir).
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server (applies migrations first).
    Serve {
        /// Address to listen on (default 127.0.0.1:8080).
        #[arg(long, value_name = "ADDR")]
        listen: Option<SocketAddr>,
        /// The URL people reach this server at.
        #[arg(long, value_name = "URL")]
        public_url: Option<String>,
        /// SMTP server for outgoing mail (`smtp://host:port`).
        #[arg(long, value_name = "URL")]
        smtp_url: Option<String>,
        /// The DNS server that domain verification asks (default: the system's).
        #[arg(long, value_name = "IP:PORT")]
        dns_resolver: Option<SocketAddr>,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Operator commands.
    #[command(subcommand)]
    Admin(Admin),
}

#[derive(Subcommand, Debug)]
pub enum Admin {
    /// Accounts.
    #[command(subcommand)]
    Account(AccountCmd),
    /// Personal access tokens.
    #[command(subcommand)]
    Token(TokenCmd),
    /// Products: OAuth / OpenID Connect clients.
    #[command(subcommand)]
    Product(ProductCmd),
    /// Workspaces.
    #[command(subcommand)]
    Workspace(WorkspaceCmd),
    /// Sites with their own customer accounts.
    #[command(subcommand)]
    Site(SiteCmd),
    /// The date after which every paid workspace gets an organization.
    #[command(subcommand, name = "linking-deadline")]
    LinkingDeadline(DeadlineCmd),
    /// External identity providers for "Continue with …".
    #[command(subcommand)]
    Provider(ProviderCmd),
}

#[derive(Subcommand, Debug)]
pub enum ProviderCmd {
    /// Add (or replace) a provider. Register PUBLIC_URL/auth/NAME/callback
    /// as its redirect URI. The client secret is read from
    /// --client-secret-file or GUILDHALL_PROVIDER_CLIENT_SECRET, never a flag.
    Add(Box<ProviderArgs>),
    /// List the providers added here (the config file's are not listed).
    List,
    /// Remove a provider; identities connected through it stop working.
    Remove { name: String },
}

#[derive(Args, Debug)]
pub struct ProviderArgs {
    /// The name in URLs, such as `github`.
    pub name: String,
    /// github, gitlab or bitbucket: then only the client id and secret are needed.
    #[arg(long)]
    pub preset: Option<String>,
    /// An OpenID Connect issuer URL.
    #[arg(long)]
    pub issuer: Option<String>,
    /// OAuth 2.0: the authorization endpoint.
    #[arg(long)]
    pub authorize_url: Option<String>,
    /// OAuth 2.0: the token endpoint.
    #[arg(long)]
    pub token_url: Option<String>,
    /// OAuth 2.0: the user-info endpoint.
    #[arg(long)]
    pub userinfo_url: Option<String>,
    /// OAuth 2.0: JSON pointer to the stable user id in user-info, such as /id.
    #[arg(long)]
    pub subject: Option<String>,
    /// OAuth 2.0: JSON pointer to the email address.
    #[arg(long)]
    pub email: Option<String>,
    /// OAuth 2.0: JSON pointer to whether the address is verified, or `true`.
    #[arg(long)]
    pub email_verified: Option<String>,
    /// OAuth 2.0: JSON pointer to the person's name.
    #[arg(long = "name-field")]
    pub name_field: Option<String>,
    /// OAuth 2.0: JSON pointer to a username.
    #[arg(long = "username-field")]
    pub username_field: Option<String>,
    /// OAuth 2.0: client_secret_basic (default) or client_secret_post.
    #[arg(long)]
    pub client_auth: Option<String>,
    /// Shown as "Continue with …".
    #[arg(long)]
    pub display_name: Option<String>,
    /// A scope to request (repeatable; default: the preset's).
    #[arg(long = "scope")]
    pub scopes: Vec<String>,
    #[arg(long)]
    pub client_id: String,
    /// A file holding the client secret.
    #[arg(long, value_name = "FILE")]
    pub client_secret_file: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum SiteCmd {
    /// Create a site (its pages: /sites/SLUG/signup and /sites/SLUG/login).
    Create {
        slug: String,
        /// Its display name (default: the slug).
        #[arg(long)]
        name: Option<String>,
        /// A global account that administers its customers.
        #[arg(long)]
        admin: Option<String>,
    },
    /// Make a global account an administrator of the site's customers.
    AddAdmin { slug: String, username: String },
}

#[derive(Subcommand, Debug)]
pub enum DeadlineCmd {
    /// Set it (RFC 3339, such as 2027-01-01T00:00:00Z).
    Set { time: String },
    /// Show it.
    Show,
    /// Remove it.
    Clear,
}

#[derive(Subcommand, Debug)]
pub enum WorkspaceCmd {
    /// Undo a workspace's link to its organization (the only way to; audited).
    Unlink {
        workspace: String,
        /// Why: recorded in both audit logs.
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum ProductCmd {
    /// Register a product; the client id (and, unless --public, the client
    /// secret) is printed once.
    Create {
        #[arg(long)]
        name: String,
        /// An exact redirect URI (repeatable).
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
        /// A public client (no secret; PKCE required), such as a CLI or a SPA.
        #[arg(long)]
        public: bool,
        /// First-party products skip the consent screen.
        #[arg(long)]
        first_party: bool,
        /// authorization_code, refresh_token or client_credentials (repeatable;
        /// default authorization_code and refresh_token).
        #[arg(long = "grant-type")]
        grant_types: Vec<String>,
        /// A scope it may ask for (repeatable; default openid profile email offline_access).
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// Where people land when a sign-in starts from the product's own link.
        #[arg(long)]
        homepage: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum TokenCmd {
    /// Create a personal access token for an account; the token is printed once.
    Create {
        #[arg(long)]
        username: String,
        /// A scope: workspaces:read, workspaces:write, workspaces:admin, orgs:read or orgs:admin (repeatable).
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
        /// A name to recognise the token by.
        #[arg(long, default_value = "created by the operator")]
        name: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum AccountCmd {
    /// Create an account; the password is read from standard input.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        username: String,
        #[arg(long)]
        display_name: Option<String>,
        /// Read the password from standard input (required).
        #[arg(long, required = true)]
        password_stdin: bool,
        /// Mark the email as verified.
        #[arg(long)]
        verified: bool,
    },
    /// Show an account.
    Show { username: String },
    /// Deactivate an account: it cannot sign in and its sessions end.
    Deactivate { username: String },
    /// Reactivate an account.
    Reactivate { username: String },
}

impl Cli {
    fn overrides(&self) -> Overrides {
        let mut o = Overrides {
            config: self.global.config.clone(),
            data_dir: self.global.data_dir.clone(),
            database_url: self.global.database_url.clone().map(Secret),
            ..Default::default()
        };
        if let Command::Serve { listen, public_url, smtp_url, dns_resolver } = &self.command {
            o.listen = *listen;
            o.dns_resolver = *dns_resolver;
            o.public_url.clone_from(public_url);
            o.smtp_url = smtp_url.clone().map(Secret);
        }
        o
    }
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::load(&cli.overrides())?;
    init_tracing(&settings);
    startup::install_crypto_provider();
    match cli.command {
        Command::Serve { .. } => serve(settings).await,
        Command::Migrate => {
            startup::open_store(&settings.database_url()).await?;
            println!("Migrations applied.");
            Ok(())
        }
        Command::Admin(Admin::Account(cmd)) => account(&settings, cmd, cli.global.json).await,
        Command::Admin(Admin::Token(cmd)) => token(&settings, cmd, cli.global.json).await,
        Command::Admin(Admin::Product(cmd)) => product(&settings, cmd, cli.global.json).await,
        Command::Admin(Admin::LinkingDeadline(cmd)) => linking_deadline(&settings, cmd).await,
        Command::Admin(Admin::Site(cmd)) => site(&settings, cmd).await,
        Command::Admin(Admin::Provider(cmd)) => provider(&settings, cmd, cli.global.json).await,
        Command::Admin(Admin::Workspace(WorkspaceCmd::Unlink { workspace, reason })) => {
            let app = operator_app(&settings).await?;
            app.orgs().unlink_workspace(&workspace, &reason).await.map_err(|e| match e {
                AppError::NotFound => anyhow::anyhow!("no such workspace"),
                e => operator_error(e),
            })?;
            println!("Workspace {workspace} is no longer linked to an organization.");
            Ok(())
        }
    }
}

fn init_tracing(settings: &Settings) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if settings.log_format == "json" { builder.json().try_init() } else { builder.try_init() };
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let server = Server::build(&settings, startup::system_clock()).await?;
    if let Some((account, password)) = &server.new_operator {
        println!("Created the operator account.");
        println!("  username: {}", account.username);
        println!("  email:    {}", account.email);
        println!("  one-time password: {password}");
        println!("  (shown only now; you will choose a new password at first sign-in)");
    }
    println!("Guildhall is listening on {} (database: {})", server.public_url(), backend_name(&settings));
    server.run(shutdown_signal()).await
}

fn backend_name(settings: &Settings) -> &'static str {
    if settings.database_url().starts_with("sqlite") { "SQLite" } else { "PostgreSQL" }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
    tracing::info!("shutting down");
}

/// The app on the configured database, for operator commands.
async fn operator_app(settings: &Settings) -> anyhow::Result<guildhall_app::App> {
    let store = startup::open_store(&settings.database_url()).await?;
    let public_url = settings.public_url.clone().unwrap_or_else(|| format!("http://{}", settings.listen));
    startup::build_app(settings, &public_url, store, startup::system_clock())
}

/// An `AppError` as the operator's error message.
/// Like `operator_error`, naming what was not found.
fn not_found(what: &'static str) -> impl Fn(AppError) -> anyhow::Error {
    move |e| match e {
        AppError::NotFound => anyhow::anyhow!("no such {what}"),
        e => operator_error(e),
    }
}

fn operator_error(e: AppError) -> anyhow::Error {
    match e {
        AppError::Invalid(errors) => {
            let text: Vec<String> = errors.0.iter().map(|(f, m)| format!("{f}: {m}")).collect();
            anyhow::anyhow!("{}", text.join("\n"))
        }
        AppError::NotFound => anyhow::anyhow!("no such account"),
        e => e.into(),
    }
}

async fn token(settings: &Settings, cmd: TokenCmd, json: bool) -> anyhow::Result<()> {
    let app = operator_app(settings).await?;
    let TokenCmd::Create { username, scopes, name } = cmd;
    let account = app.accounts().by_username(&username).await.map_err(operator_error)?;
    let (token, secret) = app.tokens().create(&account, &name, &scopes).await.map_err(operator_error)?;
    if json {
        let v = serde_json::json!({ "id": token.id, "username": account.username, "scopes": token.scopes, "token": secret.expose() });
        println!("{v}");
    } else {
        println!("Token for {} with scopes {} (shown only now):", account.username, token.scopes.join(" "));
        println!("{}", secret.expose());
    }
    Ok(())
}

async fn site(settings: &Settings, cmd: SiteCmd) -> anyhow::Result<()> {
    let app = operator_app(settings).await?;
    match cmd {
        SiteCmd::Create { slug, name, admin } => {
            let site =
                app.sites().create(&slug, name.as_deref(), admin.as_deref()).await.map_err(not_found("account"))?;
            println!("Site {} created: {}/sites/{}/signup", site.slug, app.settings().public_url, site.slug);
        }
        SiteCmd::AddAdmin { slug, username } => {
            app.sites().site(&slug).await.map_err(not_found("site"))?;
            let added = app.sites().add_admin(&slug, &username).await.map_err(not_found("account"))?;
            println!("{username} {} an administrator of {slug}.", if added { "is now" } else { "was already" });
        }
    }
    Ok(())
}

async fn provider(settings: &Settings, cmd: ProviderCmd, json: bool) -> anyhow::Result<()> {
    let app = operator_app(settings).await?;
    let external = app.external();
    match cmd {
        ProviderCmd::Add(args) => {
            let a = *args;
            let verified = a.email_verified.as_deref().map(|v| match v {
                "true" => Verified::Always(true),
                "false" => Verified::Always(false),
                pointer => Verified::Pointer(pointer.to_owned()),
            });
            let client_auth = match a.client_auth.as_deref() {
                None => None,
                Some("client_secret_basic") => Some(ClientAuth::ClientSecretBasic),
                Some("client_secret_post") => Some(ClientAuth::ClientSecretPost),
                Some(other) => anyhow::bail!("--client-auth {other:?}: use client_secret_basic or client_secret_post"),
            };
            let secret = match (&a.client_secret_file, std::env::var("GUILDHALL_PROVIDER_CLIENT_SECRET")) {
                (Some(file), _) => std::fs::read_to_string(file)
                    .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?
                    .trim()
                    .to_owned(),
                (None, Ok(secret)) => secret,
                (None, Err(_)) => {
                    anyhow::bail!(
                        "give the client secret with --client-secret-file or GUILDHALL_PROVIDER_CLIENT_SECRET"
                    )
                }
            };
            let (name, email, name_field, username_field) = (a.name, a.email, a.name_field, a.username_field);
            let given = ProviderSettings {
                preset: a.preset,
                issuer: a.issuer,
                authorize_url: a.authorize_url,
                token_url: a.token_url,
                userinfo_url: a.userinfo_url,
                mapping: a.subject.map(|subject| ClaimMapping {
                    subject,
                    email,
                    email_verified: verified,
                    name: name_field,
                    username: username_field,
                }),
                client_auth,
                display_name: a.display_name,
                scopes: (!a.scopes.is_empty()).then_some(a.scopes),
                client_id: a.client_id,
                ..Default::default()
            };
            let config = given.to_config(&name)?;
            let name = external.put_operator_provider(&name, config, &secret).await.map_err(operator_error)?;
            println!(
                "Provider {name} saved. Register {}/auth/{name}/callback as its redirect URI.",
                app.settings().public_url
            );
        }
        ProviderCmd::List => {
            let providers = external.operator_providers().await.map_err(operator_error)?;
            if json {
                let v: Vec<_> =
                    providers.iter().map(|p| serde_json::json!({ "name": p.name, "config": p.config })).collect();
                println!("{}", serde_json::Value::Array(v));
            } else {
                for p in providers {
                    let at = match &p.config.protocol {
                        Protocol::Oidc { issuer } => issuer.to_string(),
                        Protocol::Oauth2 { authorize_url, .. } => authorize_url.to_string(),
                    };
                    println!("{}\t{}\t{at}", p.name, p.config.display_name);
                }
            }
        }
        ProviderCmd::Remove { name } => {
            external.remove_operator_provider(&name).await.map_err(not_found("provider"))?;
            println!("Provider {name} removed.");
        }
    }
    Ok(())
}

async fn linking_deadline(settings: &Settings, cmd: DeadlineCmd) -> anyhow::Result<()> {
    let app = operator_app(settings).await?;
    let orgs = app.orgs();
    match cmd {
        DeadlineCmd::Set { time } => {
            let at = ::time::OffsetDateTime::parse(&time, &::time::format_description::well_known::Rfc3339)
                .map_err(|e| anyhow::anyhow!("{time:?} is not an RFC 3339 time (such as 2027-01-01T00:00:00Z): {e}"))?;
            let at = guildhall_core::Timestamp::from_offset_datetime(at);
            orgs.set_linking_deadline(Some(at)).await.map_err(operator_error)?;
            println!("Linking deadline set to {}.", at.rfc3339());
        }
        DeadlineCmd::Show => match orgs.linking_deadline().await.map_err(operator_error)? {
            Some(at) => println!("{}", at.rfc3339()),
            None => println!("No linking deadline is set."),
        },
        DeadlineCmd::Clear => {
            orgs.set_linking_deadline(None).await.map_err(operator_error)?;
            println!("Linking deadline cleared.");
        }
    }
    Ok(())
}

async fn product(settings: &Settings, cmd: ProductCmd, json: bool) -> anyhow::Result<()> {
    let app = operator_app(settings).await?;
    let ProductCmd::Create { name, redirect_uris, public, first_party, grant_types, scopes, homepage } = cmd;
    let input = guildhall_app::oauth::ProductInput {
        name: &name,
        redirect_uris: &redirect_uris,
        public,
        first_party,
        grant_types: &grant_types,
        scopes: &scopes,
        homepage: homepage.as_deref(),
        owner: None,
    };
    let (product, secret) = app.oauth().create_product(input).await.map_err(operator_error)?;
    let secret = secret.as_ref().map(|s| s.expose());
    if json {
        let v = serde_json::json!({
            "client_id": product.id.to_string(),
            "client_secret": secret,
            "name": product.name,
            "redirect_uris": product.redirect_uris,
            "grant_types": product.grant_types,
            "scopes": product.scopes,
            "first_party": product.first_party,
        });
        println!("{v}");
    } else {
        println!("Product {} registered.", product.name);
        println!("client_id:     {}", product.id);
        if let Some(s) = secret {
            println!("client_secret: {s}   (shown only now)");
        }
    }
    Ok(())
}

async fn account(settings: &Settings, cmd: AccountCmd, json: bool) -> anyhow::Result<()> {
    let app = operator_app(settings).await?;
    let accounts = app.accounts();
    let result = match cmd {
        AccountCmd::Create { email, username, display_name, password_stdin: _, verified } => {
            let mut password = String::new();
            std::io::stdin().read_to_string(&mut password)?;
            let password = password.trim_end_matches(['\r', '\n']);
            accounts
                .admin_create(AdminCreate {
                    email: &email,
                    username: &username,
                    display_name: display_name.as_deref(),
                    password,
                    verified,
                })
                .await
        }
        AccountCmd::Show { username } => accounts.by_username(&username).await,
        AccountCmd::Deactivate { username } => accounts.set_status(&username, AccountStatus::Deactivated).await,
        AccountCmd::Reactivate { username } => accounts.set_status(&username, AccountStatus::Active).await,
    };
    print_account(&result.map_err(operator_error)?, json);
    Ok(())
}

fn print_account(a: &Account, json: bool) {
    if json {
        let v = serde_json::json!({
            "id": a.id,
            "username": a.username,
            "email": a.email,
            "email_verified": a.email_verified,
            "display_name": a.display_name,
            "status": a.status,
            "is_operator": a.is_operator,
            "created_at": a.created_at.rfc3339(),
        });
        println!("{v}");
    } else {
        println!("username:      {}", a.username);
        println!("email:         {}{}", a.email, if a.email_verified { " (verified)" } else { " (not verified)" });
        println!("display name:  {}", a.display_name.as_str());
        println!("status:        {}", a.status.as_str());
        println!("id:            {}", a.id);
        println!("created:       {}", a.created_at.rfc3339());
    }
}
