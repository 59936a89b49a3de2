//! The `Dns` port on hickory-resolver: the system's resolver, or the one at
//! `dns_resolver` (`--dns-resolver IP:PORT`). Answers are not cached, so a
//! record published a moment ago is seen by the next "verify".

use async_trait::async_trait;
use guildhall_app::ports::{Dns, DnsError};
use hickory_resolver::config::{NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::{Resolver, TokioResolver};
use std::net::SocketAddr;

/// The resolver, or why there is none: a machine without a readable DNS
/// configuration still starts; only domain verification then fails, with
/// that reason.
pub struct HickoryDns(Result<TokioResolver, String>);

impl HickoryDns {
    pub fn new(server: Option<SocketAddr>) -> Self {
        let builder = match server {
            Some(addr) => {
                let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
                for c in &mut ns.connections {
                    c.port = addr.port();
                }
                Ok(Resolver::builder_with_config(
                    ResolverConfig::from_parts(None, vec![], vec![ns]),
                    TokioRuntimeProvider::default(),
                ))
            }
            None => Resolver::builder_tokio().map_err(|e| format!("cannot read the system's DNS configuration: {e}")),
        };
        let resolver = builder.and_then(|mut b| {
            b.options_mut().cache_size = 0;
            b.build().map_err(|e| format!("cannot build the DNS resolver: {e}"))
        });
        if let Err(e) = &resolver {
            tracing::warn!(error = %e, "domain verification is unavailable; set dns_resolver");
        }
        Self(resolver)
    }
}

#[async_trait]
impl Dns for HickoryDns {
    async fn txt(&self, name: &str) -> Result<Vec<String>, DnsError> {
        // A fully qualified name: no search domains.
        let resolver = self.0.as_ref().map_err(|e| DnsError(e.clone()))?;
        match resolver.txt_lookup(format!("{name}.")).await {
            Ok(lookup) => Ok(lookup
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    RData::TXT(txt) => Some(txt.to_string()),
                    _ => None,
                })
                .collect()),
            Err(e) if e.is_no_records_found() || e.is_nx_domain() => Ok(Vec::new()),
            Err(e) => Err(DnsError(e.to_string())),
        }
    }
}
