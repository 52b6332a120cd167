//! `tcp` probes: resolve the host and open a TCP connection. No keys of their own.

use crate::connect;
use crate::endpoint::Endpoint;
use crate::kind::ProbeDef;
use crate::result::ProbeResult;
use crate::run::{Failure, Pass, Run};
use crate::spec::SpecError;

/// A TCP connect to an endpoint.
#[derive(Clone, Debug)]
pub struct TcpCheck {
    pub(crate) endpoint: Endpoint,
}

impl TcpCheck {
    /// The host and port connected to.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }
}

/// The target is `host:port`.
pub(crate) fn parse(def: &ProbeDef) -> Result<TcpCheck, SpecError> {
    let endpoint = Endpoint::parse_host_port(&def.target, None)
        .map_err(|e| SpecError::invalid("target", e))?;
    Ok(TcpCheck { endpoint })
}

pub(crate) async fn run(run: &mut Run<'_>, check: &TcpCheck) -> Result<Pass, Failure> {
    connect::open(run, &check.endpoint).await.map(|_| Pass::Up)
}

pub(crate) fn up_words(_: &ProbeResult) -> String {
    ": port open".into()
}
