//! `portico share [ROUTE] [--for DURATION] [--off]`: share a route on the local network
//! through the running engine (which opens the listener), and print its address, a QR code
//! and the CA link for the phone.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use portico_core::admin::ShareRequest;
use portico_core::share::{ShareInfo, qr_terminal};

use crate::backend::Backend;
use crate::route::Select;

/// `portico share` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The route's host, e.g. app.localhost; without it, list the shared routes.
    route: Option<String>,
    /// The route's path prefix, when the host has several.
    #[arg(long, value_name = "P", requires = "route")]
    path: Option<String>,
    /// Stop sharing after this long: 90s, 30m, 2h, 1d (default: until --off).
    #[arg(long = "for", value_name = "DURATION", requires = "route", value_parser = parse_duration)]
    for_: Option<Duration>,
    /// Stop sharing the route.
    #[arg(long, requires = "route", conflicts_with = "for_")]
    off: bool,
    /// Print JSON instead of text (no terminal QR code).
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(data_dir: &Path, args: Args) -> anyhow::Result<()> {
    let backend = Backend::open(data_dir)?;
    let Backend::Api(api) = &backend else {
        bail!(
            "sharing needs Portico running (it opens the listener on your network): start it with `portico serve` or the desktop app, then run this again"
        );
    };
    let Some(host) = args.route else {
        let shares: Vec<ShareInfo> = api.get("/shares")?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&shares)?);
        } else if shares.is_empty() {
            println!("No route is shared. Share one with: portico share HOST [--for 2h]");
        } else {
            for share in &shares {
                println!("{}", one_line(share));
            }
        }
        return Ok(());
    };
    let route = Select::new(host, args.path).find(&backend)?;
    let path = format!("/routes/{}/share", route.id);
    let info: ShareInfo = if args.off {
        api.delete_for(&path)?
    } else {
        let request = ShareRequest {
            for_secs: args.for_.map(|d| d.as_secs().max(1)),
        };
        api.send("POST", &path, &request)?
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&info)?);
        return Ok(());
    }
    if args.off {
        println!("{} is no longer shared on your network.", info.route);
        return Ok(());
    }
    print!("{}", details(&info));
    Ok(())
}

/// The full text for a route just shared: the address, its QR code, the CA link.
fn details(info: &ShareInfo) -> String {
    let mut out = String::new();
    let Some(url) = &info.url else {
        let problem = info.problem.as_deref().unwrap_or("its listener is not up");
        out.push_str(&format!(
            "{} is shared, but not reachable on your network yet: {problem}\n",
            info.route
        ));
        return out;
    };
    out.push_str(&format!(
        "Shared {} on your network{}:\n\n  {url}\n\n",
        info.route,
        until(info.expires_at)
    ));
    if let Some(qr) = qr_terminal(url) {
        out.push_str(&qr);
        out.push('\n');
    }
    if let Some(ca) = &info.ca_url {
        out.push_str(&format!(
            "\nOn a new device, first install Portico's certificate (once): {ca}\n"
        ));
        out.push_str("Or scan this code for that page:\n\n");
        if let Some(qr) = qr_terminal(ca) {
            out.push_str(&qr);
            out.push('\n');
        }
    }
    out.push_str(&format!(
        "\nOnly devices from {} may connect. Stop sharing: portico share {} --off\n",
        info.allow_ips.join(", "),
        info.route.trim_end_matches('/')
    ));
    out
}

fn one_line(info: &ShareInfo) -> String {
    match (&info.url, &info.ca_url) {
        (Some(url), ca) => format!(
            "{}  {url}{}{}",
            info.route,
            ca.as_deref()
                .map(|c| format!("  (CA: {c})"))
                .unwrap_or_default(),
            until(info.expires_at)
        ),
        (None, _) => format!(
            "{}  not reachable: {}",
            info.route,
            info.problem.as_deref().unwrap_or("its listener is not up")
        ),
    }
}

/// ` for 1h 59m more`, or nothing when the share does not expire.
fn until(expires_at: Option<u64>) -> String {
    let Some(at) = expires_at else {
        return String::new();
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default();
    format!(
        " for {} more",
        human(Duration::from_millis(at.saturating_sub(now)))
    )
}

fn human(d: Duration) -> String {
    let secs = d.as_secs();
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs.div_ceil(60)),
        3600..86_400 => format!("{}h {}m", secs / 3600, (secs % 3600) / 60),
        _ => format!("{}d {}h", secs / 86_400, (secs % 86_400) / 3600),
    }
}

/// `90s`, `30m`, `2h`, `1d`, or a bare number of seconds.
fn parse_duration(text: &str) -> anyhow::Result<Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .with_context(|| format!("{text:?} is not a duration; write e.g. 90s, 30m, 2h or 1d"))?;
    let unit_secs = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => bail!("{text:?}: the unit must be s, m, h or d (e.g. 2h)"),
    };
    if n == 0 {
        bail!("a share must last at least a second");
    }
    Ok(Duration::from_secs(n.saturating_mul(unit_secs)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_read_with_their_units() {
        assert_eq!(parse_duration("90").expect("s"), Duration::from_secs(90));
        assert_eq!(parse_duration("30m").expect("m"), Duration::from_secs(1800));
        assert_eq!(parse_duration("2h").expect("h"), Duration::from_secs(7200));
        assert_eq!(
            parse_duration("1d").expect("d"),
            Duration::from_secs(86_400)
        );
        assert!(parse_duration("2 weeks").is_err());
        assert!(parse_duration("0s").is_err());
        assert_eq!(human(Duration::from_secs(7140)), "1h 59m");
    }
}
