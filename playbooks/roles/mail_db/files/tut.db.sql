-- The tutorial's tables (tut.db.sql is referenced but not shown there).
-- Every lookup Postfix, saslauthd and Cyrus make is by the first column.
CREATE TABLE domains (
    "domain" varchar(255) PRIMARY KEY
);
CREATE TABLE users (
    email varchar(255) PRIMARY KEY,
    password varchar(255) NOT NULL,           -- SHA-512 crypt ($6$...)
    quota_kb integer
);
CREATE TABLE forwardings (
    "source" varchar(255) NOT NULL,
    destination text NOT NULL,
    PRIMARY KEY ("source", destination)
);
CREATE TABLE transports (
    "domain" varchar(255) PRIMARY KEY,
    transport varchar(255) NOT NULL
);
CREATE TABLE sender_relays (
    "source" varchar(255) PRIMARY KEY,        -- sender address or @domain
    relay varchar(255) NOT NULL               -- e.g. [smtp.example.net]:587
);
CREATE TABLE relay_auth (
    "source" varchar(255) PRIMARY KEY,        -- the sender, as in sender_relays.source
    username varchar(255) NOT NULL,
    password varchar(255) NOT NULL
);
CREATE TABLE userpref (
    email varchar(255) NOT NULL,
    preference varchar(255) NOT NULL,
    value text,
    PRIMARY KEY (email, preference)
);
