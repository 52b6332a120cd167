//! `downbeat token …` and `downbeat user …`: operators' credentials, written straight to the
//! store (so they work while the server runs).

use super::UsageError;
use crate::cli::{StoreArgs, TokenCommand, UserCommand};
use anyhow::Context;
use downbeat_api::auth::{self, Role};
use downbeat_config::Config;
use downbeat_domain::Slug;
use downbeat_store::{Store, StoreError, UserRow};
use std::io::{BufRead, IsTerminal};
use std::sync::Arc;

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

async fn open(args: &StoreArgs) -> anyhow::Result<Arc<dyn Store>> {
    Ok(open_with_config(args).await?.0)
}

async fn open_with_config(args: &StoreArgs) -> anyhow::Result<(Arc<dyn Store>, Config)> {
    let config = super::load_config(args.config.as_deref())?;
    let (target, _) = super::store_target(args, &config)?;
    let store = downbeat_store::open_with(&target, super::pg_timeouts(&config))
        .await
        .context("opening the store")?;
    Ok((store, config))
}

fn role(s: &str, allowed: &[Role]) -> anyhow::Result<Role> {
    Role::parse(s)
        .filter(|r| allowed.contains(r))
        .ok_or_else(|| {
            let names: Vec<&str> = allowed.iter().map(|r| r.as_str()).collect();
            UsageError(format!("--role {s:?}: use {}", names.join(", "))).into()
        })
}

/// The regions of `--region`: slugs; required for an agent token, allowed for an admin's
/// (which pushes agent results only for regions it names), refused for the others.
fn token_regions(role: Role, regions: &[String]) -> anyhow::Result<Vec<Slug>> {
    let regions: Vec<Slug> = regions
        .iter()
        .map(|r| {
            Slug::parse(r).map_err(|e| UsageError(format!("--region {r:?}: {e} (like eu-west)")))
        })
        .collect::<Result<_, _>>()?;
    match role {
        Role::Agent if regions.is_empty() => Err(UsageError(
            "an agent token needs --region: the region(s) its agents report for, e.g. --region eu-west"
                .into(),
        )
        .into()),
        Role::Viewer | Role::Editor | Role::Signal | Role::Deployer | Role::Integration
            if !regions.is_empty() =>
        {
            Err(UsageError(format!(
                "--region is for agent and admin tokens; a {role} token pushes no results"
            ))
            .into())
        }
        _ => Ok(regions),
    }
}

fn check_name(kind: &str, name: &str) -> anyhow::Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'));
    if ok {
        Ok(())
    } else {
        Err(UsageError(format!(
            "{kind} name {name:?}: use 1-64 letters, digits, '-', '_', '.' or '@'"
        ))
        .into())
    }
}

fn date(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

pub fn token(c: TokenCommand) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        match c {
            TokenCommand::Create {
                store,
                name,
                role: r,
                regions,
            } => {
                check_name("token", &name)?;
                let role = role(&r, &Role::ALL)?;
                let regions = token_regions(role, &regions)?;
                let store = open(&store).await?;
                let now = jiff::Timestamp::now().as_millisecond();
                let secret =
                    match auth::create_token_for_regions(&*store, &name, role, &regions, now)
                        .await
                    {
                        Ok(s) => s,
                        Err(StoreError::Conflict(m)) => return Err(UsageError(m).into()),
                        Err(e) => {
                            return Err(anyhow::Error::new(e).context("creating the token"));
                        }
                    };
                let reporting = if regions.is_empty() {
                    String::new()
                } else {
                    let names: Vec<&str> = regions.iter().map(Slug::as_str).collect();
                    format!(", reporting for {}", names.join(", "))
                };
                eprintln!(
                    "Created token {name:?} with role {role}{reporting}. It is shown once; store it now:"
                );
                println!("{secret}");
                Ok(())
            }
            TokenCommand::List { store } => {
                let store = open(&store).await?;
                for t in store.tokens().await? {
                    let state = match t.revoked_ms {
                        Some(ms) => format!("revoked {}", date(ms)),
                        None => "active".into(),
                    };
                    let regions = if t.regions.is_empty() {
                        String::new()
                    } else {
                        let names: Vec<&str> = t.regions.iter().map(Slug::as_str).collect();
                        format!("\tregions {}", names.join(","))
                    };
                    println!(
                        "{}\t{}\tcreated {}\t{state}{regions}",
                        t.name,
                        t.role,
                        date(t.created_ms)
                    );
                }
                Ok(())
            }
            TokenCommand::Revoke { store, name } => {
                let store = open(&store).await?;
                let now = jiff::Timestamp::now().as_millisecond();
                if store.revoke_token(&name, now).await? {
                    eprintln!("revoked token {name:?}");
                    Ok(())
                } else {
                    Err(UsageError(format!("no active token named {name:?}")).into())
                }
            }
        }
    })
}

/// A password from the terminal (twice, not echoed) or one line of standard input.
fn read_password() -> anyhow::Result<String> {
    let password = if std::io::stdin().is_terminal() {
        let a = rpassword::prompt_password("Password: ")?;
        let b = rpassword::prompt_password("Again: ")?;
        if a != b {
            return Err(UsageError("the passwords differ".into()).into());
        }
        a
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    auth::check_password_strength(&password).map_err(|e| UsageError(e.to_string()))?;
    Ok(password)
}

pub fn user(c: UserCommand) -> anyhow::Result<()> {
    match c {
        UserCommand::Hash => {
            let password = read_password()?;
            println!("{}", auth::hash_password(&password)?);
            Ok(())
        }
        UserCommand::Add {
            store,
            name,
            role: r,
        } => {
            check_name("user", &name)?;
            let role = role(&r, &[Role::Viewer, Role::Editor, Role::Admin])?;
            let password = read_password()?;
            let hash = auth::hash_password(&password)?;
            runtime()?.block_on(async {
                let store = open(&store).await?;
                let existing = store.user(&name).await?;
                let ended = store
                    .save_user(UserRow {
                        name: name.clone(),
                        role,
                        password_hash: hash,
                        created_ms: existing.as_ref().map_or_else(
                            || jiff::Timestamp::now().as_millisecond(),
                            |u| u.created_ms,
                        ),
                        // Written here, it stays when the config file does not name it.
                        from_config: false,
                    })
                    .await?;
                eprintln!(
                    "{} user {name:?} with role {role}",
                    if existing.is_some() {
                        "updated"
                    } else {
                        "added"
                    }
                );
                if ended > 0 {
                    eprintln!("its new password signed it out of {ended} session(s)");
                }
                Ok(())
            })
        }
        UserCommand::List { store } => runtime()?.block_on(async {
            let store = open(&store).await?;
            let now = jiff::Timestamp::now().as_millisecond();
            for u in store.users().await? {
                let locks: Vec<_> = store
                    .login_failures(&u.name)
                    .await?
                    .into_iter()
                    .filter(|f| f.locked_at(now))
                    .collect();
                let locked = if locks.is_empty() {
                    "active".to_owned()
                } else {
                    let from: Vec<String> = locks
                        .iter()
                        .map(|f| {
                            format!(
                                "{} until {}",
                                f.client,
                                date(f.locked_until_ms.unwrap_or(now))
                            )
                        })
                        .collect();
                    format!("locked from {}", from.join(", "))
                };
                println!(
                    "{}\t{}\tcreated {}\t{locked}",
                    u.name,
                    u.role,
                    date(u.created_ms)
                );
            }
            Ok(())
        }),
        UserCommand::Remove { store, name } => runtime()?.block_on(async {
            let (store, config) = open_with_config(&store).await?;
            if !store.delete_user(&name).await? {
                return Err(UsageError(format!(
                    "no user named {name:?} (see `downbeat user list`)"
                ))
                .into());
            }
            eprintln!("removed user {name:?}; its sessions have ended");
            if config.users.iter().any(|u| u.name == name) {
                eprintln!(
                    "warning: the config file has a [[user]] table named {name:?}, which \
                     adds it again when the server starts: remove that table too"
                );
            }
            Ok(())
        }),
    }
}
