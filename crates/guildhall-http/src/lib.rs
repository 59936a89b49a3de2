//! guildhall-http
