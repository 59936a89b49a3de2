//! The User and Group schemas as static data (RFC 7643 §4.1, §4.2, §8.7.1:
//! <https://www.rfc-editor.org/rfc/rfc7643#section-8.7.1>), the subset
//! Guildhall serves, plus the common attributes of §3.1 (`id`,
//! `externalId`, `meta`) and `schemas`.
//!
//! Filters ([`super::eval`]), sorting, PATCH and the `/Schemas` document
//! ([`super::discovery`]) all read these definitions, so what is advertised
//! is what is evaluated.

use super::path::AttrPath;
use super::{GROUP_SCHEMA_URN, USER_SCHEMA_URN};

/// An attribute's data type (RFC 7643 §2.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AttrKind {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Binary,
    Reference,
    Complex,
}

/// RFC 7643 §7 `mutability`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

/// RFC 7643 §7 `returned`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Returned {
    Always,
    Never,
    Default,
    Request,
}

/// RFC 7643 §7 `uniqueness`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Uniqueness {
    None,
    Server,
    Global,
}

/// One attribute definition (RFC 7643 §7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttributeDef {
    pub name: &'static str,
    pub kind: AttrKind,
    pub multi_valued: bool,
    pub description: &'static str,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    pub uniqueness: Uniqueness,
    pub canonical_values: &'static [&'static str],
    pub reference_types: &'static [&'static str],
    pub sub_attributes: &'static [AttributeDef],
}

impl AttributeDef {
    /// A single-valued, optional, case-insensitive, read-write attribute.
    pub const fn new(name: &'static str, kind: AttrKind, description: &'static str) -> Self {
        Self {
            name,
            kind,
            multi_valued: false,
            description,
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            canonical_values: &[],
            reference_types: &[],
            sub_attributes: &[],
        }
    }

    /// A sub-attribute by name, ignoring case.
    pub fn sub_attribute(&self, name: &str) -> Option<&'static AttributeDef> {
        find(self.sub_attributes, name)
    }

    pub const fn is_complex(&self) -> bool {
        matches!(self.kind, AttrKind::Complex)
    }
}

/// A resource type's schema: what `/Schemas/{id}` describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResourceSchema {
    /// The schema URN.
    pub id: &'static str,
    /// The resource type's name (`User`), also the ResourceType id.
    pub name: &'static str,
    pub description: &'static str,
    /// The endpoint relative to the SCIM base URL (`/Users`).
    pub endpoint: &'static str,
    /// Attributes of this schema, without the common ones.
    pub attributes: &'static [AttributeDef],
}

impl ResourceSchema {
    /// A top-level attribute, its own or a common one, ignoring case.
    pub fn attribute(&self, name: &str) -> Option<&'static AttributeDef> {
        find(self.attributes, name).or_else(|| find(COMMON_ATTRIBUTES, name))
    }

    /// Whether `uri` names this schema (URNs compared ignoring case).
    pub fn is_own_urn(&self, uri: &str) -> bool {
        self.id.eq_ignore_ascii_case(uri)
    }

    /// The definition a path ends at (the sub-attribute's when there is one),
    /// or `None` when the path names nothing in this schema.
    pub fn resolve(&self, path: &AttrPath) -> Option<&'static AttributeDef> {
        if path.uri.as_deref().is_some_and(|u| !self.is_own_urn(u)) {
            return None;
        }
        let def = self.attribute(&path.name)?;
        match &path.sub_attr {
            Some(sub) => def.sub_attribute(sub),
            None => Some(def),
        }
    }
}

fn find(attrs: &'static [AttributeDef], name: &str) -> Option<&'static AttributeDef> {
    attrs.iter().find(|a| a.name.eq_ignore_ascii_case(name))
}

use AttrKind::{Boolean, Complex, DateTime, Reference, String as Str};

const READ_ONLY: AttributeDef = AttributeDef { mutability: Mutability::ReadOnly, ..AttributeDef::new("", Str, "") };

/// `id`, `externalId`, `meta` (RFC 7643 §3.1) and `schemas` (§3): every
/// resource has them; they are not listed in a schema's `attributes`.
pub static COMMON_ATTRIBUTES: &[AttributeDef] = &[
    AttributeDef {
        case_exact: true,
        mutability: Mutability::ReadOnly,
        returned: Returned::Always,
        uniqueness: Uniqueness::Server,
        ..AttributeDef::new("id", Str, "A unique identifier for a SCIM resource as defined by the service provider.")
    },
    AttributeDef {
        case_exact: true,
        ..AttributeDef::new("externalId", Str, "An identifier for the resource as defined by the provisioning client.")
    },
    AttributeDef {
        mutability: Mutability::ReadOnly,
        sub_attributes: &[
            AttributeDef {
                case_exact: true,
                ..AttributeDef { name: "resourceType", description: "The name of the resource type.", ..READ_ONLY }
            },
            AttributeDef {
                kind: DateTime,
                ..AttributeDef { name: "created", description: "When the resource was added.", ..READ_ONLY }
            },
            AttributeDef {
                kind: DateTime,
                ..AttributeDef { name: "lastModified", description: "When the resource was last changed.", ..READ_ONLY }
            },
            AttributeDef {
                kind: Reference,
                case_exact: true,
                reference_types: &["uri"],
                ..AttributeDef { name: "location", description: "The URI of the resource.", ..READ_ONLY }
            },
            AttributeDef {
                case_exact: true,
                ..AttributeDef { name: "version", description: "The version (ETag) of the resource.", ..READ_ONLY }
            },
        ],
        ..AttributeDef::new("meta", Complex, "Resource metadata.")
    },
    AttributeDef {
        multi_valued: true,
        required: true,
        reference_types: &["uri"],
        returned: Returned::Always,
        ..AttributeDef::new("schemas", Reference, "The schema URIs the resource conforms to.")
    },
];

/// `urn:ietf:params:scim:schemas:core:2.0:User`, the attributes Guildhall serves.
pub static USER: ResourceSchema = ResourceSchema {
    id: USER_SCHEMA_URN,
    name: "User",
    description: "User Account",
    endpoint: "/Users",
    attributes: &[
        AttributeDef {
            required: true,
            uniqueness: Uniqueness::Server,
            ..AttributeDef::new("userName", Str, "Unique identifier for the User, used to sign in.")
        },
        AttributeDef {
            sub_attributes: &[
                AttributeDef::new("formatted", Str, "The full name, formatted for display."),
                AttributeDef::new("familyName", Str, "The family name of the User."),
                AttributeDef::new("givenName", Str, "The given name of the User."),
            ],
            ..AttributeDef::new("name", Complex, "The components of the user's real name.")
        },
        AttributeDef::new("displayName", Str, "The name of the User, suitable for display to end-users."),
        // Required here (optional in RFC 7643): every account has an address.
        AttributeDef {
            multi_valued: true,
            required: true,
            sub_attributes: &[
                AttributeDef { required: true, ..AttributeDef::new("value", Str, "Email address for the User.") },
                AttributeDef::new("display", Str, "A human-readable name, primarily used for display purposes."),
                AttributeDef {
                    canonical_values: &["work", "home", "other"],
                    ..AttributeDef::new("type", Str, "A label indicating the attribute's function.")
                },
                AttributeDef::new("primary", Boolean, "Whether this is the primary email address."),
            ],
            ..AttributeDef::new("emails", Complex, "Email addresses for the User.")
        },
        AttributeDef::new("active", Boolean, "The User's administrative status."),
        AttributeDef {
            multi_valued: true,
            mutability: Mutability::ReadOnly,
            sub_attributes: &[
                AttributeDef { name: "value", description: "The identifier of the User's group.", ..READ_ONLY },
                AttributeDef {
                    kind: Reference,
                    reference_types: &["User", "Group"],
                    ..AttributeDef { name: "$ref", description: "The URI of the group.", ..READ_ONLY }
                },
                AttributeDef { name: "display", description: "The group's name.", ..READ_ONLY },
                AttributeDef {
                    canonical_values: &["direct", "indirect"],
                    ..AttributeDef { name: "type", description: "How the membership was derived.", ..READ_ONLY }
                },
            ],
            ..AttributeDef::new("groups", Complex, "The groups the User belongs to.")
        },
    ],
};

const IMMUTABLE: AttributeDef = AttributeDef { mutability: Mutability::Immutable, ..AttributeDef::new("", Str, "") };

/// `urn:ietf:params:scim:schemas:core:2.0:Group`.
pub static GROUP: ResourceSchema = ResourceSchema {
    id: GROUP_SCHEMA_URN,
    name: "Group",
    description: "Group",
    endpoint: "/Groups",
    attributes: &[
        AttributeDef {
            required: true,
            ..AttributeDef::new("displayName", Str, "A human-readable name for the Group.")
        },
        AttributeDef {
            multi_valued: true,
            sub_attributes: &[
                AttributeDef { name: "value", description: "The identifier of the member.", ..IMMUTABLE },
                AttributeDef {
                    kind: Reference,
                    reference_types: &["User", "Group"],
                    ..AttributeDef { name: "$ref", description: "The URI of the member.", ..IMMUTABLE }
                },
                AttributeDef { name: "display", description: "The member's name.", ..READ_ONLY },
                AttributeDef {
                    canonical_values: &["User", "Group"],
                    ..AttributeDef { name: "type", description: "The type of the member.", ..IMMUTABLE }
                },
            ],
            ..AttributeDef::new("members", Complex, "A list of members of the Group.")
        },
    ],
};

/// The schemas served, for `/Schemas` and `/ResourceTypes`.
pub static RESOURCE_SCHEMAS: [&ResourceSchema; 2] = [&USER, &GROUP];
