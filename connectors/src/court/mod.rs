//! The juvenile court connector (kind `court`): orders and report requests
//! from the Tribunale per i minorenni's system, each signed by the court.
//!
//! - `transport`: pulling the feed (`GET {base_url}/orders?after=&limit=`),
//!   the cursor (the last `seq`), and how failures are classified.
//! - [`jws`]: the court's public keys and the verification of each order's
//!   compact JWS; an unsigned, forged or foreign item is rejected with the
//!   reason, so the engine parks it in the dead letters.
//! - [`map`]: the verified claims to a [`crate::model::CourtOrderIn`], pure.
//! - [`peer`] (feature `test-peer`): a court for tests, on 127.0.0.1, that
//!   also receives the hub's signed messages (`POST /messages`).
//!
//! The signature, not the transport, is what makes an order the court's: a
//! bearer token or TLS only says which server answered. So the raw item kept
//! in a dead letter is the JWS itself, and a retry verifies it again.
//! Sending reports back to the court is the outbox's job (`api`), never this
//! module's. `docs/connectors-court.md` holds the wire format and the rules.

pub mod jws;
pub mod map;
#[cfg(feature = "test-peer")]
pub mod peer;
#[cfg(all(test, feature = "test-peer"))]
mod tests;
mod transport;

use futures::future::BoxFuture;

use crate::config::{ConfigError, CourtConfig, InstanceConfig};
use crate::connector::{Connector, FetchError, Mapped, Page, RawItem};

pub use jws::CourtKeys;
pub use map::{MapContext, map_item, read_order};

/// `RawItem::resource_type` (and the keys' resource type) of an order.
pub const RESOURCE_TYPE: &str = "court-order";

/// A juvenile court's system as a [`Connector`].
pub struct CourtConnector {
    ctx: MapContext,
    transport: transport::Transport,
}

impl CourtConnector {
    /// Builds the connector of instance `name`: checks the instance, reads
    /// the court's public key and the bearer token, if any.
    pub fn new(
        name: &str,
        instance: &InstanceConfig,
        cfg: &CourtConfig,
    ) -> Result<CourtConnector, ConfigError> {
        instance.validate(name)?;
        let prefix = format!("connectors.{name}");
        let keys = CourtKeys::read(
            &cfg.court_key_file,
            &cfg.algorithms,
            &format!("{prefix}.court_key_file"),
        )?;
        let token = cfg
            .auth
            .as_ref()
            .map(|s| s.read(&format!("{prefix}.auth")))
            .transpose()?;
        let transport = transport::Transport::new(&prefix, cfg, token)?;
        let agency = instance.agency.trim().to_string();
        Ok(CourtConnector {
            ctx: MapContext {
                system: system_of(&agency),
                agency,
                keys,
            },
            transport,
        })
    }

    /// The system of this instance's keys (`court:{agency}`).
    pub fn system(&self) -> &str {
        &self.ctx.system
    }
}

/// The `system` of a court's keys: its agency id, so that a change of the
/// court's URL does not make its orders new ones.
pub fn system_of(agency: &str) -> String {
    format!("court:{agency}")
}

impl Connector for CourtConnector {
    fn kind(&self) -> &'static str {
        "court"
    }

    fn upstream(&self) -> String {
        self.transport.orders_url().to_string()
    }

    fn fetch<'a>(
        &'a self,
        cursor: Option<&'a str>,
        next: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Page, FetchError>> {
        Box::pin(self.transport.fetch(cursor, next))
    }

    fn map(&self, item: &RawItem) -> Mapped {
        map_item(&self.ctx, item)
    }
}
