// terraferma audit verify LOG [--json]
//
// Checks a routing audit log's hash chain: every record's hash over its contents and the one
// before, and the records' numbering. Exit 0 when the chain holds, 1 naming the first line that
// breaks it (a record removed, edited or moved).
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "router/audit_log.h"

namespace tf::cli {

void add_audit_commands(CLI::App& root, Commands& commands) {
    auto* audit = root.add_subcommand("audit", "The routing audit log (serve --routes): check its hash chain");
    audit->require_subcommand(1);
    auto* verify = audit->add_subcommand("verify", "Check every record's hash and its link to the record before");
    auto path = std::make_shared<std::string>();
    auto json = std::make_shared<bool>(false);
    verify->add_option("LOG", *path, "The audit log (JSON lines)")->required();
    verify->add_flag("--json", *json, "Print {\"records\", \"ok\", \"error\"} as JSON");
    commands.push_back(
        {verify, [path, json]() {
             auto r = router::verify_audit_log(*path);
             if (!r) {
                 print_error("audit verify", r.error().message);
                 return kExitFailure;
             }
             if (*json) {
                 nlohmann::ordered_json j = {{"records", r->records}, {"ok", r->error.empty()}, {"error", r->error}};
                 std::printf("%s\n", j.dump().c_str());
             } else if (r->error.empty()) {
                 std::printf("%s: %llu records, the chain holds\n", path->c_str(),
                             static_cast<unsigned long long>(r->records));
             } else {
                 std::printf("%s: BROKEN at %s (%llu records verified before it)\n", path->c_str(), r->error.c_str(),
                             static_cast<unsigned long long>(r->records));
             }
             return r->error.empty() ? kExitOk : kExitFailure;
         }});
}

}  // namespace tf::cli
