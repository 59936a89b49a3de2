//! Typed identifiers. All are UUIDs (v7, so they sort by creation time).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new identifier from caller-supplied randomness and time (UUIDv7).
            pub fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id_type!(
    /// The identifier of a global account.
    AccountId
);
id_type!(
    /// The identifier of a browser session (not its secret cookie value).
    SessionId
);
id_type!(
    /// The identifier of a workspace.
    WorkspaceId
);
id_type!(
    /// The identifier of a user group.
    GroupId
);
id_type!(
    /// The identifier of a repository.
    RepositoryId
);
id_type!(
    /// The identifier of an invitation (not its secret token).
    InvitationId
);
id_type!(
    /// The identifier of an access token (not its secret value).
    AccessTokenId
);
id_type!(
    /// The identifier of a product (an OAuth client); its string form is the
    /// `client_id`.
    ProductId
);
id_type!(
    /// One authorization: the code and every token issued from it, revoked
    /// together.
    GrantId
);
id_type!(
    /// The identifier of an organization.
    OrgId
);
id_type!(
    /// A product linked to a workspace (its reporting credentials and
    /// auto-invitation configuration).
    LinkId
);
id_type!(
    /// A site with its own customer accounts.
    SiteId
);
id_type!(
    /// A customer account of one site (never a global account).
    CustomerId
);
