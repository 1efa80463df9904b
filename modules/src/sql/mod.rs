//! Database modules: PostgreSQL and MariaDB/MySQL, run as the database's
//! OS superuser on the target over the existing connection.

pub mod client;
pub mod grants;
pub mod mysql_db;
pub mod mysql_grant;
pub mod mysql_user;
pub mod mysql_variables;
pub mod passwords;
pub mod postgresql_db;
pub mod postgresql_privs;
pub mod postgresql_set;
pub mod postgresql_slot;
pub mod postgresql_user;
pub mod query;
pub mod sql_rows;
