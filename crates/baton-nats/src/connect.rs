//! How to reach the NATS server: its address, credentials and TLS.
//!
//! A connection that cannot be made fails within the connect timeout (a
//! few seconds), with an error that says whether the server is not there
//! or refused the credentials. Secrets live in [`Secret`], whose `Debug`
//! and `Display` never show them, and addresses are shown without the
//! user and password they may carry.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::ConnectError;

/// A password, token or key seed: it is never printed.
///
/// # Examples
///
/// ```
/// let secret = baton_nats::Secret::new("s3cr3t");
/// assert_eq!(format!("{secret:?}"), "Secret(***)");
/// assert_eq!(secret.to_string(), "***");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    ///
    /// # Examples
    ///
    /// See [`Secret`].
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    fn expose(&self) -> String {
        self.0.clone()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// How to authenticate.
///
/// # Examples
///
/// ```
/// use baton_nats::{Auth, Secret};
/// let auth = Auth::UserPassword { user: "baton".into(), password: Secret::new("pw") };
/// assert!(!format!("{auth:?}").contains("pw\""));
/// ```
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub enum Auth {
    /// No credentials.
    #[default]
    None,
    /// A user name and password.
    UserPassword {
        /// The user.
        user: String,
        /// The password.
        password: Secret,
    },
    /// A token.
    Token(Secret),
    /// A credentials file (a user JWT and its NKey seed, as `nsc` writes it).
    CredsFile(PathBuf),
    /// An NKey seed.
    NKey(Secret),
}

/// TLS for the connection.
///
/// # Examples
///
/// ```
/// let tls = baton_nats::Tls { ca: Some("ca.pem".into()), ..Default::default() };
/// assert!(tls.client_cert.is_none());
/// ```
#[derive(Clone, Debug, Default)]
pub struct Tls {
    /// The certificate authority to trust (else the system's roots).
    pub ca: Option<PathBuf>,
    /// A client certificate and its key, for servers that verify clients.
    pub client_cert: Option<(PathBuf, PathBuf)>,
}

/// Where the NATS server is and how to connect to it.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let options = baton_nats::ConnectOptions::new("nats://127.0.0.1:4222")
///     .connect_timeout(Duration::from_secs(2));
/// assert_eq!(options.urls(), ["nats://127.0.0.1:4222"]);
/// ```
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    urls: Vec<String>,
    auth: Auth,
    tls: Option<Tls>,
    connect_timeout: Duration,
    name: Option<String>,
}

impl ConnectOptions {
    /// A server's address, or several separated by commas (the nodes of a
    /// cluster): `nats://host:4222`, `tls://host:4222`, `host:4222`.
    ///
    /// # Examples
    ///
    /// ```
    /// let options = baton_nats::ConnectOptions::new("a:4222, b:4222");
    /// assert_eq!(options.urls(), ["a:4222", "b:4222"]);
    /// ```
    pub fn new(urls: &str) -> Self {
        Self {
            urls: urls
                .split(',')
                .map(str::trim)
                .filter(|u| !u.is_empty())
                .map(String::from)
                .collect(),
            auth: Auth::None,
            tls: None,
            connect_timeout: Duration::from_secs(5),
            name: None,
        }
    }

    /// The servers' addresses.
    ///
    /// # Examples
    ///
    /// See [`ConnectOptions::new`].
    pub fn urls(&self) -> &[String] {
        &self.urls
    }

    /// The credentials.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_nats::{Auth, ConnectOptions, Secret};
    /// let options = ConnectOptions::new("localhost").auth(Auth::Token(Secret::new("t")));
    /// ```
    pub fn auth(self, auth: Auth) -> Self {
        Self { auth, ..self }
    }

    /// TLS: required, with these certificates.
    ///
    /// # Examples
    ///
    /// ```
    /// let options = baton_nats::ConnectOptions::new("tls://localhost").tls(Default::default());
    /// ```
    pub fn tls(self, tls: Tls) -> Self {
        Self {
            tls: Some(tls),
            ..self
        }
    }

    /// How long to wait for the server before giving up (5 s by default).
    ///
    /// # Examples
    ///
    /// See [`ConnectOptions`].
    pub fn connect_timeout(self, timeout: Duration) -> Self {
        Self {
            connect_timeout: timeout,
            ..self
        }
    }

    /// The name the connection shows in the server's monitoring.
    ///
    /// # Examples
    ///
    /// ```
    /// let options = baton_nats::ConnectOptions::new("localhost").name("baton worker");
    /// ```
    pub fn name(self, name: impl Into<String>) -> Self {
        Self {
            name: Some(name.into()),
            ..self
        }
    }

    /// The addresses as they may be shown: without user or password.
    fn shown(&self) -> String {
        self.urls
            .iter()
            .map(|url| without_credentials(url))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Connects: fails within the connect timeout if no server answers, at
    /// once if one refuses the credentials. Once connected, the client
    /// reconnects by itself (to any node of a cluster) if the server goes
    /// away.
    ///
    /// # Errors
    ///
    /// [`ConnectError`]: which says whether the server is unreachable, did
    /// not answer in time, or refused the credentials.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), baton_nats::ConnectError> {
    /// let client = baton_nats::ConnectOptions::new("nats://127.0.0.1:4222").connect().await?;
    /// # Ok(()) }
    /// ```
    pub async fn connect(&self) -> Result<async_nats::Client, ConnectError> {
        let url = self.shown();
        let mut options = async_nats::ConnectOptions::new()
            .connection_timeout(self.connect_timeout)
            .request_timeout(Some(Duration::from_secs(10)))
            .max_reconnects(None);
        if let Some(name) = &self.name {
            options = options.name(name);
        }
        options = match &self.auth {
            Auth::None => options,
            Auth::UserPassword { user, password } => {
                options.user_and_password(user.clone(), password.expose())
            }
            Auth::Token(token) => options.token(token.expose()),
            Auth::NKey(seed) => options.nkey(seed.expose()),
            Auth::CredsFile(path) => options.credentials_file(path).await.map_err(|source| {
                ConnectError::Credentials {
                    path: path.clone(),
                    source,
                }
            })?,
        };
        if let Some(tls) = &self.tls {
            options = options.require_tls(true);
            if let Some(ca) = &tls.ca {
                options = options.add_root_certificates(ca.clone());
            }
            if let Some((cert, key)) = &tls.client_cert {
                options = options.add_client_certificate(cert.clone(), key.clone());
            }
        }
        let connecting = options.connect(self.urls.as_slice());
        // A second bound over the client's own, which covers one attempt.
        let bound = self.connect_timeout + Duration::from_secs(1);
        match tokio::time::timeout(bound, connecting).await {
            Err(_) => Err(ConnectError::TimedOut {
                url,
                after: self.connect_timeout,
            }),
            Ok(Ok(client)) => Ok(client),
            Ok(Err(error)) => Err(classify(url, self.connect_timeout, error)),
        }
    }
}

fn classify(url: String, after: Duration, error: async_nats::ConnectError) -> ConnectError {
    use async_nats::ConnectErrorKind as Kind;
    // The client's message may quote the address it was given: show ours.
    let reason = error.to_string();
    match error.kind() {
        Kind::AuthorizationViolation | Kind::Authentication => ConnectError::Refused { url },
        Kind::TimedOut => ConnectError::TimedOut { url, after },
        Kind::Tls => ConnectError::Tls { url, reason },
        _ if reason.to_lowercase().contains("authorization") => ConnectError::Refused { url },
        _ => ConnectError::Unreachable { url, reason },
    }
}

/// An address without the `user:password@` it may carry.
fn without_credentials(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (format!("{scheme}://"), rest),
        None => (String::new(), url),
    };
    match rest.rsplit_once('@') {
        Some((_, host)) => format!("{scheme}***@{host}"),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_shown_without_credentials() {
        assert_eq!(
            without_credentials("nats://me:pw@host:4222"),
            "nats://***@host:4222"
        );
        assert_eq!(without_credentials("host:4222"), "host:4222");
        let options = ConnectOptions::new("nats://u:secret@a:1,b:2");
        assert_eq!(options.shown(), "nats://***@a:1,b:2");
    }
}
