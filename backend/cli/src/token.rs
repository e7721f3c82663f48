//! `nodefit token`: API tokens for the server, managed directly in its database (also before
//! the server first starts, and when every admin token is lost).

use anyhow::{bail, Result};
use clap::{Args, Subcommand};

use super::serve::DatabaseArgs;
use nodefit_server::auth::{generate_token, hash_token, Role};

use crate::one_of;
use nodefit_server::config::Overrides;
use nodefit_server::db::{format_time, Db};

#[derive(Args)]
pub struct TokenArgs {
    #[command(subcommand)]
    command: TokenCommand,
}

/// Tokens read per database query when listing them all.
const TOKENS_PER_QUERY: i64 = 500;

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token and print it (once: only its hash is stored).
    Create {
        /// viewer reads; author also writes specs and snapshots; publisher also publishes;
        /// admin also manages tokens.
        #[arg(long, value_parser = one_of(Role::ALL.map(Role::as_str), Role::parse))]
        role: Role,
        /// A name that says whose token it is (shown as the author of what it writes).
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// List tokens (never the tokens themselves).
    List {
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Revoke a token by its id: it stops working at once.
    Revoke {
        id: i64,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

pub async fn run(args: TokenArgs) -> Result<u8> {
    match args.command {
        TokenCommand::Create {
            role,
            name,
            database,
        } => {
            let name = name.unwrap_or_else(|| role.as_str().to_owned());
            if name.trim().is_empty() || name.trim() != name {
                bail!("--name must be non-empty text without leading or trailing spaces");
            }
            if let Some(c) = name
                .chars()
                .find(|c| c.is_control() || nodefit_core::text::is_hidden(*c))
            {
                bail!(
                    "--name must not contain control, invisible or text-reordering characters \
                         (it has U+{:04X})",
                    c as u32
                );
            }
            let db = open(&database).await?;
            let token = generate_token()?;
            let row = db
                .create_token(&name, role, &hash_token(&token), "nodefit token create")
                .await?;
            db.close().await;
            let Some(row) = row else {
                bail!(
                        "a token named {name:?} exists; token names are unique, choose another with --name"
                    );
            };
            eprintln!(
                "created token {} ({:?}, {}); it is shown only this once:",
                row.id,
                row.name,
                role.as_str()
            );
            println!("{token}");
        }
        TokenCommand::List { database } => {
            let db = open(&database).await?;
            let mut tokens = Vec::new();
            loop {
                let (page, total) = db
                    .list_tokens(TOKENS_PER_QUERY, tokens.len() as i64)
                    .await?;
                let last = page.is_empty() || tokens.len() + page.len() >= total as usize;
                tokens.extend(page);
                if last {
                    break;
                }
            }
            db.close().await;
            println!("{:>5}  {:<10}  {:<24}  NAME", "ID", "ROLE", "CREATED");
            for t in tokens {
                println!(
                    "{:>5}  {:<10}  {:<24}  {}",
                    t.id,
                    t.role.as_str(),
                    format_time(t.created_at),
                    t.name
                );
            }
        }
        TokenCommand::Revoke { id, database } => {
            let db = open(&database).await?;
            let deleted = db.delete_token(id).await?;
            db.close().await;
            if !deleted {
                bail!("no token with id {id}");
            }
            eprintln!("revoked token {id}");
        }
    }
    Ok(0)
}

async fn open(database: &DatabaseArgs) -> Result<Db> {
    let config = database.load(Overrides::default())?;
    let max_connections = 1;
    Db::open(&config.database, max_connections).await
}
