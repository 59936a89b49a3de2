//! guildhall-testkit
