//! `mailplay doc`: module documentation generated from the typed
//! definitions the engine runs, so it cannot drift from the code.

use mailplay_modules::registry::Registry;

use crate::exec::run::exit;

use super::args::DocArgs;

pub fn run(args: DocArgs) -> i32 {
    let reg = Registry::global();
    if args.list || args.name.is_none() {
        let width = reg.names().map(str::len).max().unwrap_or(0);
        for m in reg.iter() {
            println!("{:width$}  {}", m.name(), m.doc().summary);
        }
        return exit::OK;
    }
    let name = args.name.unwrap_or_default();
    let Some(m) = reg.get(&name) else {
        let hint = reg.suggest(&name).map(|s| format!(" Did you mean '{s}'?")).unwrap_or_default();
        eprintln!("ERROR! module '{name}' not found.{hint}");
        return exit::ERROR;
    };
    let doc = m.doc();
    println!("> {} — {}\n", m.name().to_uppercase(), doc.summary);
    println!("OPTIONS (= is mandatory):\n");
    for a in &doc.args {
        let mark = if a.required { "=" } else { "-" };
        println!("{mark} {}\n        {}", a.name, a.description);
        print!("        type: {}", a.ty);
        if let Some(d) = a.default {
            print!("; default: {d}");
        }
        println!("\n");
    }
    println!("EXAMPLES:\n\n{}", doc.example);
    exit::OK
}
