//! The Postfix checks of `doctor`: does every smtpd service that offers AUTH consult the
//! map, early enough? Each service is judged by its effective settings: its master.cf
//! `-o` overrides (`postconf -P`), else main.cf's values (`postconf -h`), both also read
//! with `$name` references expanded (`-x`). A suggested fix keeps the current list and
//! inserts the lookup before its first `permit`.

use std::collections::BTreeMap;

use crate::config::{Config, MapType};
use crate::render::command;

use super::Finding;

/// The main.cf parameters doctor reads (and the overrides it looks at).
const PARAMETERS: [&str; 4] = [
    "smtpd_client_restrictions",
    "smtpd_discard_ehlo_keyword_address_maps",
    "smtpd_delay_reject",
    "smtpd_sasl_auth_enable",
];

/// One parameter's value as written, and with `$name` references expanded.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Value {
    /// As written (`$mua_client_restrictions`): a suggested fix keeps it.
    pub raw: String,
    /// As Postfix uses it (`permit_sasl_authenticated, reject`): what is judged.
    pub expanded: String,
}

impl Value {
    /// A value without references (raw and expanded equal).
    pub fn plain(text: &str) -> Value {
        Value {
            raw: text.to_string(),
            expanded: text.to_string(),
        }
    }
}

/// Postfix's settings as `postconf` reports them.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PostfixSettings {
    /// `postconf -m`: supported lookup table types.
    pub map_types: Vec<String>,
    /// main.cf's values (defaults included) of the parameters doctor reads.
    pub main: BTreeMap<String, Value>,
    /// smtpd services from `postconf -M`, each with its `-o` overrides (`postconf -P`).
    pub services: Vec<SmtpdService>,
}

/// One smtpd service from master.cf.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SmtpdService {
    /// `smtp/inet`, `submission/inet`, ...
    pub name: String,
    /// `-o name=value` overrides, by parameter name.
    pub overrides: BTreeMap<String, Value>,
}

/// Where a service's effective value of a parameter comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// main.cf (or Postfix's default): `postconf -e` changes it, for every service
    /// without an override.
    MainCf,
    /// The service's `-o` in master.cf: `postconf -P` changes it.
    MasterCf,
}

impl PostfixSettings {
    /// The value `service` runs with: its override, else main.cf's.
    fn effective<'a>(&'a self, service: &'a SmtpdService, name: &str) -> (&'a Value, Origin) {
        static EMPTY: Value = Value {
            raw: String::new(),
            expanded: String::new(),
        };
        match service.overrides.get(name) {
            Some(value) => (value, Origin::MasterCf),
            None => (self.main.get(name).unwrap_or(&EMPTY), Origin::MainCf),
        }
    }
}

/// Parses `postconf -M` (one service per line: name type private unpriv chroot wakeup
/// maxproc command args...) into the smtpd services, and `postconf -P`
/// (`service/type/parameter = value`, as written and as `-Px` expands it) into their
/// overrides.
pub fn parse_services(master: &str, raw: &str, expanded: &str) -> Vec<SmtpdService> {
    let mut services: Vec<SmtpdService> = master
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            (fields.len() >= 8 && fields[7] == "smtpd").then(|| SmtpdService {
                name: format!("{}/{}", fields[0], fields[1]),
                overrides: BTreeMap::new(),
            })
        })
        .collect();
    let expanded: BTreeMap<(&str, &str), &str> = override_lines(expanded).collect();
    for (key, value) in override_lines(raw) {
        let (service, parameter) = key;
        if let Some(s) = services.iter_mut().find(|s| s.name == service) {
            s.overrides.insert(
                parameter.to_string(),
                Value {
                    raw: value.to_string(),
                    expanded: expanded.get(&key).unwrap_or(&value).to_string(),
                },
            );
        }
    }
    services
}

/// `((service/type, parameter), value)` per line of `postconf -P`.
fn override_lines(text: &str) -> impl Iterator<Item = ((&str, &str), &str)> {
    text.lines().filter_map(|line| {
        let (key, value) = line.split_once(" = ").or_else(|| line.split_once('='))?;
        let (service, parameter) = key.trim().rsplit_once('/')?;
        Some(((service, parameter), value.trim()))
    })
}

/// Runs `postconf [-c DIR] ARGS` and returns its output.
pub fn postconf(config: &Config, args: &[&str]) -> anyhow::Result<String> {
    let argv: Vec<String> = postconf_argv(config, args);
    Ok(command::run("postconf", &argv[1..], None)?.stdout)
}

/// `postconf [-c DIR] ARGS` as an argument vector (program first): what doctor runs,
/// and what it suggests.
fn postconf_argv(config: &Config, args: &[&str]) -> Vec<String> {
    let mut argv = vec!["postconf".to_string()];
    if let Some(dir) = &config.postfix.config_directory {
        argv.push("-c".into());
        argv.push(dir.to_string_lossy().into_owned());
    }
    argv.extend(args.iter().map(|a| a.to_string()));
    argv
}

/// Reads the settings doctor needs from `postconf`.
pub fn read_postfix(config: &Config) -> anyhow::Result<PostfixSettings> {
    let mut args = vec!["-h"];
    args.extend(PARAMETERS);
    let raw = postconf(config, &args)?;
    args[0] = "-xh";
    let expanded = postconf(config, &args)?;
    let main = PARAMETERS
        .iter()
        .zip(raw.lines().zip(expanded.lines()))
        .map(|(name, (raw, expanded))| {
            (
                name.to_string(),
                Value {
                    raw: raw.trim().to_string(),
                    expanded: expanded.trim().to_string(),
                },
            )
        })
        .collect();
    Ok(PostfixSettings {
        map_types: postconf(config, &["-m"])?
            .lines()
            .map(|l| l.trim().to_string())
            .collect(),
        main,
        services: parse_services(
            &postconf(config, &["-M"])?,
            &postconf(config, &["-P"])?,
            &postconf(config, &["-Px"])?,
        ),
    })
}

/// The elements of a Postfix list with where each starts: separated by commas and
/// white space; a `{ ... }` group (Postfix 3.0) is one element.
fn list_elements(value: &str) -> Vec<(usize, &str)> {
    let bytes = value.as_bytes();
    let separator = |b: u8| b == b',' || b.is_ascii_whitespace();
    let mut elements = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if separator(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        let mut depth = 0usize;
        while i < bytes.len() && (depth > 0 || !separator(bytes[i])) {
            match bytes[i] {
                b'{' => depth += 1,
                b'}' => depth = depth.saturating_sub(1),
                _ => {}
            }
            i += 1;
        }
        elements.push((start, &value[start..i]));
    }
    elements
}

/// How `restrictions` uses `check_client_access MAP`: `None` when it does not hold it,
/// `Some(false)` when a plain `permit` comes first (it permits every client and ends
/// the list, so Postfix never consults the map), `Some(true)` when Postfix consults it.
fn checks_map(restrictions: &str, map: &str) -> Option<bool> {
    let elements = list_elements(restrictions);
    let at = elements
        .windows(2)
        .position(|pair| pair[0].1 == "check_client_access" && pair[1].1 == map)?;
    Some(!elements[..at].iter().any(|(_, e)| *e == "permit"))
}

/// Whether a list of maps (`smtpd_discard_ehlo_keyword_address_maps`) holds `map`.
fn lists_map(maps: &str, map: &str) -> bool {
    list_elements(maps).iter().any(|(_, m)| *m == map)
}

/// Whether a discard map whose value is `reject_text` hides AUTH: the value is a list
/// of EHLO keywords, and `auth` must be one of them.
fn discards_auth(reject_text: &str) -> bool {
    list_elements(reject_text)
        .iter()
        .any(|(_, keyword)| keyword.eq_ignore_ascii_case("auth"))
}

/// Where the lookup goes in a restriction list: before the first element that may
/// permit (`permit*`, or a `$name` whose content is not known here), else first.
fn insert_at(elements: &[(usize, &str)]) -> usize {
    elements
        .iter()
        .position(|(_, e)| e.starts_with("permit") || e.starts_with('$'))
        .unwrap_or(0)
}

/// `current` (a main.cf restriction list, as written) with `check_client_access MAP`
/// inserted before its first permit: the text is kept as it is around it.
pub fn main_cf_value_with_lookup(current: &str, map: &str) -> String {
    let current = current.trim();
    let lookup = format!("check_client_access {map}");
    let elements = list_elements(current);
    match elements.get(insert_at(&elements)) {
        None => lookup,
        Some((at, _)) => format!("{}{lookup}, {}", &current[..*at], &current[*at..]),
    }
}

/// The same for a master.cf `-o` value: the elements joined with commas, since
/// `postconf -P` and a plain `-o` take no white space. `Err` with the list as written
/// plus the lookup when an element holds white space (a `{ ... }` group): that needs
/// `-o { ... }`.
pub fn master_cf_value_with_lookup(current: &str, map: &str) -> Result<String, String> {
    let elements = list_elements(current);
    let mut words: Vec<&str> = elements.iter().map(|(_, e)| *e).collect();
    let at = insert_at(&elements);
    words.splice(at..at, ["check_client_access", map]);
    if words.iter().any(|w| w.contains(char::is_whitespace)) {
        return Err(main_cf_value_with_lookup(current, map));
    }
    Ok(words.join(","))
}

/// An argument as a POSIX shell reads it back (single quotes where needed).
fn shell_quote(arg: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_-./:=,@%+".contains(c);
    if !arg.is_empty() && arg.chars().all(safe) {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// A command as one shell line.
fn shell_line(argv: &[String]) -> String {
    argv.iter()
        .map(|a| shell_quote(a))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A failing finding whose fix is a command (shown as a shell line, given as argv).
fn fail_with_command(
    check: &'static str,
    message: String,
    argv: Vec<String>,
    after: &str,
) -> Finding {
    let mut finding = Finding::fail(check, message, format!("{}{after}", shell_line(&argv)));
    finding.command = Some(argv);
    finding
}

/// The names of a group of services: `smtp/inet, smtps/inet`.
fn names(services: &[&SmtpdService]) -> String {
    services
        .iter()
        .map(|s| s.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A Postfix boolean (`yes`/`no`, in any case, as Postfix reads them) is yes.
fn is_yes(value: &str) -> bool {
    value.trim().eq_ignore_ascii_case("yes")
}

/// The Postfix checks over already-read settings: pure, so they are unit-tested.
pub fn judge_postfix(config: &Config, settings: &PostfixSettings) -> Vec<Finding> {
    let mut findings = vec![judge_map_type(config, settings)];
    let map = format!(
        "{}:{}",
        config.postfix.map_type.as_str(),
        config.postfix.map.display()
    );
    let offering_auth: Vec<&SmtpdService> = settings
        .services
        .iter()
        .filter(|s| is_yes(&settings.effective(s, "smtpd_sasl_auth_enable").0.expanded))
        .collect();
    let judged = if offering_auth.is_empty() {
        findings.push(Finding::warn(
            "auth",
            "no smtpd service offers AUTH (smtpd_sasl_auth_enable = yes in main.cf or a \
             service's -o in master.cf): there is nothing to guess passwords at",
            "if clients do authenticate, check [postfix] config_directory (doctor reads \
             `postconf -c DIR`)",
        ));
        settings.services.iter().collect()
    } else {
        offering_auth
    };
    if judged.is_empty() {
        findings.push(Finding::fail(
            "map in use",
            "postconf -M lists no smtpd service",
            "check [postfix] config_directory: doctor reads `postconf -c DIR -M`",
        ));
    }
    let mut inheriting_without_map = Vec::new();
    let mut inheriting_after_permit = Vec::new();
    for service in &judged {
        let (restrictions, origin) = settings.effective(service, "smtpd_client_restrictions");
        let (discard, discard_origin) =
            settings.effective(service, "smtpd_discard_ehlo_keyword_address_maps");
        let listed_for_discard = lists_map(&discard.expanded, &map);
        let hides_auth = listed_for_discard && discards_auth(&config.postfix.reject_text);
        if listed_for_discard && !hides_auth {
            findings.push(Finding::warn(
                "map in use",
                format!(
                    "{} lists {map} in smtpd_discard_ehlo_keyword_address_maps ({}), but the \
                     map's value (reject_text = {:?}) names no auth keyword: AUTH is not hidden",
                    service.name,
                    origin_name(discard_origin),
                    config.postfix.reject_text
                ),
                "set reject_text = \"auth\" to hide AUTH this way, or take the map out of \
                 smtpd_discard_ehlo_keyword_address_maps",
            ));
        }
        let checked = checks_map(&restrictions.expanded, &map);
        if checked == Some(true) {
            findings.push(Finding::pass(
                "map in use",
                format!(
                    "{} checks {map} in smtpd_client_restrictions ({})",
                    service.name,
                    origin_name(origin)
                ),
            ));
        } else if hides_auth {
            findings.push(Finding::pass(
                "map in use",
                format!(
                    "{} hides AUTH from {map} (smtpd_discard_ehlo_keyword_address_maps, {})",
                    service.name,
                    origin_name(discard_origin)
                ),
            ));
        } else if checked == Some(false) && origin == Origin::MainCf {
            inheriting_after_permit.push(*service);
        } else if checked == Some(false) {
            let message = format!(
                "{}: in smtpd_client_restrictions (master.cf -o) {}",
                service.name,
                after_permit(&map)
            );
            findings.push(master_cf_fix(config, service, restrictions, &map, message));
        } else if origin == Origin::MainCf {
            inheriting_without_map.push(*service);
        } else {
            findings.push(missing_in_master_cf(config, service, restrictions, &map));
        }
        if !hides_auth {
            findings.push(judge_delay_reject(config, settings, service));
        }
    }
    let current = settings
        .main
        .get("smtpd_client_restrictions")
        .cloned()
        .unwrap_or_default();
    if !inheriting_without_map.is_empty() {
        let message = format!(
            "{} use{} main.cf's smtpd_client_restrictions ({:?}), which has no \
             check_client_access {map}: blocks are not enforced there",
            names(&inheriting_without_map),
            if inheriting_without_map.len() == 1 {
                "s"
            } else {
                ""
            },
            current.raw
        );
        findings.push(main_cf_fix(config, &current, &map, message));
    }
    if !inheriting_after_permit.is_empty() {
        let message = format!(
            "{}: in smtpd_client_restrictions (main.cf) {}",
            names(&inheriting_after_permit),
            after_permit(&map)
        );
        findings.push(main_cf_fix(config, &current, &map, message));
    }
    findings
}

/// Why a lookup behind a plain `permit` enforces nothing.
fn after_permit(map: &str) -> String {
    format!("check_client_access {map} comes after `permit`, so Postfix never consults the map")
}

/// A failing finding whose fix puts the lookup into main.cf's list `current`.
fn main_cf_fix(config: &Config, current: &Value, map: &str, message: String) -> Finding {
    let value = main_cf_value_with_lookup(&current.raw, map);
    fail_with_command(
        "map in use",
        message,
        postconf_argv(
            config,
            &["-e", &format!("smtpd_client_restrictions = {value}")],
        ),
        " (the current list, with the lookup before its first permit), then postfix reload",
    )
}

/// Whether Postfix can open the configured map type at all.
fn judge_map_type(config: &Config, settings: &PostfixSettings) -> Finding {
    let map_type = config.postfix.map_type.as_str();
    if settings.map_types.iter().any(|t| t == map_type) {
        Finding::pass("map type", format!("Postfix supports {map_type} tables"))
    } else {
        Finding::fail(
            "map type",
            format!("this Postfix does not support {map_type} tables (postconf -m)"),
            match config.postfix.map_type {
                MapType::Lmdb => "apt-get install postfix-lmdb, or set map_type = \"cidr\"",
                _ => "set [postfix] map_type to one that `postconf -m` lists, e.g. \"cidr\"",
            },
        )
    }
}

fn origin_name(origin: Origin) -> &'static str {
    match origin {
        Origin::MainCf => "main.cf",
        Origin::MasterCf => "master.cf -o",
    }
}

/// A service whose own `-o smtpd_client_restrictions` lacks the map: the fix changes
/// that override only, keeping what it holds.
fn missing_in_master_cf(
    config: &Config,
    service: &SmtpdService,
    restrictions: &Value,
    map: &str,
) -> Finding {
    let message = format!(
        "{} overrides smtpd_client_restrictions in master.cf ({:?}) without \
         check_client_access {map}: blocks are not enforced there",
        service.name, restrictions.raw
    );
    master_cf_fix(config, service, restrictions, map, message)
}

/// A failing finding whose fix puts the lookup into a service's own `-o` list.
fn master_cf_fix(
    config: &Config,
    service: &SmtpdService,
    restrictions: &Value,
    map: &str,
    message: String,
) -> Finding {
    match master_cf_value_with_lookup(&restrictions.raw, map) {
        Ok(value) => fail_with_command(
            "map in use",
            message,
            postconf_argv(
                config,
                &[
                    "-P",
                    &format!("{}/smtpd_client_restrictions={value}", service.name),
                ],
            ),
            " (the current list, with the lookup before its first permit), then postfix reload",
        ),
        Err(spaced) => Finding::fail(
            "map in use",
            message,
            format!(
                "in master.cf, make the service's override \
                 -o {{ smtpd_client_restrictions = {spaced} }} (the current list, with the \
                 lookup before its first permit), then postfix reload"
            ),
        ),
    }
}

/// With `smtpd_delay_reject = yes` the restrictions wait for RCPT TO, so a blocked
/// client can still try AUTH.
fn judge_delay_reject(
    config: &Config,
    settings: &PostfixSettings,
    service: &SmtpdService,
) -> Finding {
    let (delay, origin) = settings.effective(service, "smtpd_delay_reject");
    let delay = &delay.expanded;
    if delay.trim().eq_ignore_ascii_case("no") {
        return Finding::pass(
            "smtpd_delay_reject",
            format!(
                "{} offers AUTH and rejects blocked clients at once (smtpd_delay_reject = no, {})",
                service.name,
                origin_name(origin)
            ),
        );
    }
    let argv = postconf_argv(
        config,
        &["-P", &format!("{}/smtpd_delay_reject=no", service.name)],
    );
    let mut finding = Finding::warn(
        "smtpd_delay_reject",
        format!(
            "{} offers AUTH with smtpd_delay_reject = {delay} ({}): a blocked client can still \
             try AUTH (restrictions wait for RCPT TO)",
            service.name,
            origin_name(origin)
        ),
        format!(
            "{} then postfix reload (or postconf -e smtpd_delay_reject=no for every service), \
             or list the map in smtpd_discard_ehlo_keyword_address_maps with value auth",
            shell_line(&argv)
        ),
    );
    finding.command = Some(argv);
    finding
}

/// Runs the Postfix checks against the real `postconf`.
pub fn check_postfix(config: &Config) -> Vec<Finding> {
    match read_postfix(config) {
        Ok(settings) => judge_postfix(config, &settings),
        Err(e) => vec![Finding::fail(
            "postfix",
            format!("cannot read Postfix's settings: {e:#}"),
            "install Postfix, or set [postfix] config_directory to its configuration directory",
        )],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Verdict;

    /// Whether any finding of `check` has `verdict`.
    fn any(findings: &[Finding], check: &str, verdict: Verdict) -> bool {
        findings
            .iter()
            .any(|f| f.check == check && f.verdict == verdict)
    }

    const MASTER: &str = "\
smtp       inet  n       -       y       -       -       smtpd
pickup     unix  n       -       y       60      1       pickup
submission inet  n       -       y       -       -       smtpd -o syslog_name=postfix/submission -o smtpd_sasl_auth_enable=yes -o smtpd_delay_reject=no
smtps      inet  n       -       y       -       -       smtpd -o smtpd_sasl_auth_enable=yes
";
    const OVERRIDES: &str = "\
submission/inet/syslog_name = postfix/submission
submission/inet/smtpd_sasl_auth_enable = yes
submission/inet/smtpd_delay_reject = no
smtps/inet/smtpd_sasl_auth_enable = yes
";

    fn settings(restrictions: &str, delay: &str) -> PostfixSettings {
        let main = [
            ("smtpd_client_restrictions", restrictions),
            ("smtpd_discard_ehlo_keyword_address_maps", ""),
            ("smtpd_delay_reject", delay),
            ("smtpd_sasl_auth_enable", "no"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), Value::plain(v)))
        .collect();
        PostfixSettings {
            map_types: vec!["cidr".into(), "hash".into(), "texthash".into()],
            main,
            services: parse_services(MASTER, OVERRIDES, OVERRIDES),
        }
    }

    #[test]
    fn services_and_their_overrides_are_read() {
        let s = settings("", "yes");
        let names: Vec<&str> = s.services.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["smtp/inet", "submission/inet", "smtps/inet"]);
        assert_eq!(
            s.effective(&s.services[1], "smtpd_delay_reject"),
            (&Value::plain("no"), Origin::MasterCf)
        );
        assert_eq!(
            s.effective(&s.services[2], "smtpd_delay_reject"),
            (&Value::plain("yes"), Origin::MainCf)
        );
    }

    #[test]
    fn overrides_keep_the_raw_and_the_expanded_value() {
        let services = parse_services(
            MASTER,
            "smtps/inet/smtpd_client_restrictions = $mua_client_restrictions\n",
            "smtps/inet/smtpd_client_restrictions = permit_sasl_authenticated, reject\n",
        );
        assert_eq!(
            services[2].overrides["smtpd_client_restrictions"],
            Value {
                raw: "$mua_client_restrictions".into(),
                expanded: "permit_sasl_authenticated, reject".into()
            }
        );
    }

    #[test]
    fn a_good_setup_passes_and_the_delay_reject_trap_is_named() {
        let config = Config::default();
        let good = settings(
            "permit_mynetworks, check_client_access cidr:/etc/postfix/saslguard_access",
            "no",
        );
        let findings = judge_postfix(&config, &good);
        assert!(
            findings.iter().all(|f| f.verdict == Verdict::Pass),
            "{findings:#?}"
        );
        let trap = judge_postfix(
            &config,
            &settings(
                "check_client_access cidr:/etc/postfix/saslguard_access",
                "yes",
            ),
        );
        let warned: Vec<&Finding> = trap.iter().filter(|f| f.verdict == Verdict::Warn).collect();
        assert_eq!(warned.len(), 1, "{trap:#?}");
        assert!(warned[0].message.contains("smtps/inet"), "{warned:?}");
        assert_eq!(
            warned[0].command.as_deref().unwrap(),
            ["postconf", "-P", "smtps/inet/smtpd_delay_reject=no"]
        );
    }

    #[test]
    fn the_map_only_in_a_services_override_passes_for_that_service() {
        let config = Config::default();
        let mut s = settings("", "YES");
        s.services[1].overrides.insert(
            "smtpd_client_restrictions".into(),
            Value::plain("check_client_access,cidr:/etc/postfix/saslguard_access"),
        );
        let findings = judge_postfix(&config, &s);
        let submission: Vec<&Finding> = findings
            .iter()
            .filter(|f| f.message.starts_with("submission/inet"))
            .collect();
        assert!(
            submission.iter().all(|f| f.verdict == Verdict::Pass),
            "{findings:#?}"
        );
        // smtps offers AUTH too and inherits main.cf's empty list: that one fails.
        let failed: Vec<&Finding> = findings
            .iter()
            .filter(|f| f.verdict == Verdict::Fail)
            .collect();
        assert_eq!(failed.len(), 1, "{findings:#?}");
        assert!(failed[0].message.starts_with("smtps/inet uses main.cf"));
        // Postfix reads booleans in any case: YES is yes.
        assert!(
            findings.iter().any(|f| f.verdict == Verdict::Warn
                && f.message
                    .starts_with("smtps/inet offers AUTH with smtpd_delay_reject = YES")),
            "{findings:#?}"
        );
        assert_eq!(
            failed[0].command.as_deref().unwrap(),
            [
                "postconf",
                "-e",
                "smtpd_client_restrictions = check_client_access cidr:/etc/postfix/saslguard_access"
            ]
        );
    }

    #[test]
    fn a_missing_map_reference_and_an_unsupported_type_fail() {
        let mut config = Config::default();
        let findings = judge_postfix(&config, &settings("permit_mynetworks", "no"));
        assert!(any(&findings, "map in use", Verdict::Fail));
        config.postfix.map_type = MapType::Lmdb;
        let findings = judge_postfix(&config, &settings("", "no"));
        let failed = findings.iter().find(|f| f.check == "map type").unwrap();
        assert_eq!(failed.verdict, Verdict::Fail);
        assert!(failed.fix.as_deref().unwrap().contains("postfix-lmdb"));
    }

    #[test]
    fn hiding_auth_through_the_discard_map_satisfies_both_checks() {
        let mut config = Config::default();
        config.postfix.reject_text = "auth".into();
        let mut hidden = settings("permit", "yes");
        hidden.main.insert(
            "smtpd_discard_ehlo_keyword_address_maps".into(),
            Value::plain("cidr:/etc/postfix/saslguard_access"),
        );
        let findings = judge_postfix(&config, &hidden);
        assert!(
            findings.iter().all(|f| f.verdict == Verdict::Pass),
            "{findings:#?}"
        );
        // With a reject as the map's value, the discard map hides nothing.
        config.postfix.reject_text = "554 5.7.1 Go away".into();
        let findings = judge_postfix(&config, &hidden);
        assert!(
            findings.iter().any(|f| f.verdict == Verdict::Warn
                && f.message
                    .contains("names no auth keyword: AUTH is not hidden")),
            "{findings:#?}"
        );
        assert!(any(&findings, "map in use", Verdict::Fail), "{findings:#?}");
        assert!(
            any(&findings, "smtpd_delay_reject", Verdict::Warn),
            "{findings:#?}"
        );
    }

    #[test]
    fn a_lookup_after_a_plain_permit_fails_and_its_fix_passes() {
        let config = Config::default();
        let late = "permit, check_client_access cidr:/etc/postfix/saslguard_access";
        let findings = judge_postfix(&config, &settings(late, "no"));
        assert!(
            !any(&findings, "map in use", Verdict::Pass),
            "{findings:#?}"
        );
        let failed: Vec<&Finding> = findings
            .iter()
            .filter(|f| f.verdict == Verdict::Fail)
            .collect();
        assert_eq!(failed.len(), 1, "{findings:#?}");
        assert!(failed[0].message.contains("comes after `permit`"));
        let fixed = main_cf_value_with_lookup(late, MAP);
        let findings = judge_postfix(&config, &settings(&fixed, "no"));
        assert!(
            findings.iter().all(|f| f.verdict == Verdict::Pass),
            "{fixed}: {findings:#?}"
        );
        // permit_mynetworks permits only some clients: the lookup after it is consulted.
        let partial = "permit_mynetworks, check_client_access cidr:/etc/postfix/saslguard_access";
        assert_eq!(checks_map(partial, MAP), Some(true));
        assert_eq!(checks_map(late, MAP), Some(false));
        assert_eq!(checks_map("permit", MAP), None);
    }

    const MAP: &str = "cidr:/etc/postfix/saslguard_access";

    /// The elements of `suggested` are those of `current` with the two of the lookup
    /// inserted: nothing dropped, nothing reordered.
    fn assert_keeps(current: &str, suggested: &str) {
        let before: Vec<&str> = list_elements(current).iter().map(|(_, e)| *e).collect();
        let mut after: Vec<&str> = list_elements(suggested).iter().map(|(_, e)| *e).collect();
        let at = after
            .iter()
            .position(|e| *e == "check_client_access")
            .unwrap_or_else(|| panic!("no lookup in {suggested:?}"));
        assert_eq!(after[at + 1], MAP, "{suggested}");
        after.drain(at..at + 2);
        assert_eq!(after, before, "{current:?} -> {suggested:?}");
    }

    #[test]
    fn a_suggested_list_keeps_every_element_and_puts_the_lookup_before_the_first_permit() {
        for (current, main_cf) in [
            ("", "check_client_access cidr:/etc/postfix/saslguard_access"),
            (
                "permit_mynetworks, reject_unknown_client_hostname",
                "check_client_access cidr:/etc/postfix/saslguard_access, permit_mynetworks, reject_unknown_client_hostname",
            ),
            (
                "reject_unauth_pipelining permit_mynetworks, check_policy_service { inet:127.0.0.1:10023, timeout=10s }, permit",
                "reject_unauth_pipelining check_client_access cidr:/etc/postfix/saslguard_access, permit_mynetworks, check_policy_service { inet:127.0.0.1:10023, timeout=10s }, permit",
            ),
            (
                "reject_rbl_client zen.example, $extra, permit_sasl_authenticated",
                "reject_rbl_client zen.example, check_client_access cidr:/etc/postfix/saslguard_access, $extra, permit_sasl_authenticated",
            ),
            (
                "  reject_unknown_reverse_client_hostname  ",
                "check_client_access cidr:/etc/postfix/saslguard_access, reject_unknown_reverse_client_hostname",
            ),
        ] {
            let suggested = main_cf_value_with_lookup(current, MAP);
            assert_eq!(suggested, main_cf, "{current:?}");
            assert_keeps(current, &suggested);
            match master_cf_value_with_lookup(current, MAP) {
                Ok(value) => {
                    assert!(!value.contains(char::is_whitespace), "{value}");
                    assert_keeps(current, &value);
                }
                Err(spaced) => {
                    assert!(current.contains('{'), "{current}");
                    assert_keeps(current, &spaced);
                }
            }
        }
        assert_eq!(
            master_cf_value_with_lookup(
                "check_policy_service { inet:127.0.0.1:10023, timeout=10s }, permit",
                MAP
            ),
            Err(
                "check_policy_service { inet:127.0.0.1:10023, timeout=10s }, check_client_access cidr:/etc/postfix/saslguard_access, permit"
                    .to_string()
            )
        );
        assert_eq!(
            master_cf_value_with_lookup("permit_sasl_authenticated,reject", MAP).unwrap(),
            "check_client_access,cidr:/etc/postfix/saslguard_access,permit_sasl_authenticated,reject"
        );
    }

    #[test]
    fn shell_lines_quote_what_a_shell_would_split() {
        assert_eq!(
            shell_line(&[
                "postconf".into(),
                "-e".into(),
                "a = b, c".into(),
                "it's".into()
            ]),
            r"postconf -e 'a = b, c' 'it'\''s'"
        );
    }
}
