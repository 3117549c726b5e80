#include "context.h"

#include "dfs/common/coroutines.h"
#include "dfs/common/error.h"
#include "dfs/domain/layout.h"
#include "dfs/domain_net/etcd_admin.h"
#include "dfs/referral_net/auth.h"
#include "output.h"

namespace dfs::tools {

Status NeedStore(const Globals& g) {
  if (g.store_dir.empty()) {
    return Fail(Errc::kInvalidArgument,
                "no store: give --store DIR or set DFS_STORE");
  }
  return Status::Ok();
}

Result<std::unique_ptr<ns::Store>> OpenStore(const Globals& g, bool create) {
  DFS_RETURN_IF_ERROR(NeedStore(g));
  ns::StoreOptions options;
  options.create_if_missing = create;
  return ns::Store::Open(g.store_dir, options);
}

std::string Describe(std::initializer_list<std::string_view> words) {
  std::string out;
  for (auto w : words) {
    if (w.empty()) continue;
    if (!out.empty()) out += ' ';
    out += w;
  }
  return out;
}

namespace {

namespace asio = boost::asio;

Result<domain_net::EtcdOptions> EtcdOptionsOf(const Globals& g) {
  domain_net::EtcdOptions options;
  DFS_ASSIGN_OR_RETURN(options.endpoints, domain_net::ParseEndpoints(g.etcd));
  DFS_RETURN_IF_ERROR(domain::ValidatePrefix(g.etcd_prefix));
  options.user = g.etcd_user;
  options.tls = {g.etcd_ca_file, g.etcd_cert_file, g.etcd_key_file};
  if (!g.etcd_user.empty()) {
    DFS_ASSIGN_OR_RETURN(options.password,
                         referral_net::ReadPasswordFile(g.etcd_password_file));
  }
  return options;
}

// Runs `work` with an etcd client on a private io_context, to completion.
template <typename T>
Result<T> WithEtcd(
    const Globals& g,
    std::function<asio::awaitable<Result<T>>(domain_net::EtcdClient&)> work) {
  DFS_ASSIGN_OR_RETURN(auto options, EtcdOptionsOf(g));
  return domain_net::RunBlocking<Result<T>>(
      [&](asio::any_io_executor executor) -> asio::awaitable<Result<T>> {
        auto client = domain_net::EtcdClient::Create(executor, options);
        if (!client) co_return Unexpected(client.error());
        co_return co_await work(**client);
      });
}

Result<std::unique_ptr<domain_net::DomainNamespace>> ReadDomain(
    const Globals& g) {
  return WithEtcd<std::unique_ptr<domain_net::DomainNamespace>>(
      g, [&](domain_net::EtcdClient& client) {
        return domain_net::ReadDomain(client, g.etcd_prefix);
      });
}

}  // namespace

Result<NamespaceView> ReadNamespace(const Globals& g) {
  NamespaceView view;
  if (g.domain_mode()) {
    DFS_ASSIGN_OR_RETURN(auto domain, ReadDomain(g));
    view.index = std::make_unique<ns::NamespaceIndex>(std::move(domain->index));
    return view;
  }
  DFS_ASSIGN_OR_RETURN(view.store, OpenStore(g, false));
  DFS_ASSIGN_OR_RETURN(view.snapshot, view.store->Snapshot());
  return view;
}

Result<std::unique_ptr<ns::NamespaceIndex>> LoadNamespace(const Globals& g) {
  if (g.domain_mode()) {
    DFS_ASSIGN_OR_RETURN(auto domain, ReadDomain(g));
    return std::make_unique<ns::NamespaceIndex>(std::move(domain->index));
  }
  DFS_ASSIGN_OR_RETURN(auto store, OpenStore(g, false));
  auto index = std::make_unique<ns::NamespaceIndex>();
  DFS_RETURN_IF_ERROR(store->LoadInto(*index));
  return index;
}

Status NotInDomainMode(const Globals& g, std::string_view what) {
  if (!g.domain_mode()) return Status::Ok();
  return Fail(Errc::kUnsupported,
              std::string(what) +
                  " works on a store, not on etcd: give --store (a dfsd's "
                  "store in domain mode holds the whole namespace)");
}

Status RunChange(CommandContext& ctx, const std::string& description,
                 const std::function<Status(ns::NamespaceWriter&)>& change) {
  if (ctx.globals.domain_mode()) {
    domain_net::ChangeOptions options;
    options.prefix = ctx.globals.etcd_prefix;
    options.limits.max_operations = ctx.globals.etcd_max_ops;
    options.limits.max_bytes = ctx.globals.etcd_max_bytes;
    DFS_ASSIGN_OR_RETURN(domain_net::ChangeOutcome outcome,
                         WithEtcd<domain_net::ChangeOutcome>(
                             ctx.globals, [&](domain_net::EtcdClient& client) {
                               return domain_net::ChangeDomain(
                                   client, options, description, change);
                             }));
    RenderChange(ctx.out, ctx.globals.json, description,
                 static_cast<uint64_t>(outcome.revision));
    return Status::Ok();
  }
  DFS_ASSIGN_OR_RETURN(auto store, OpenStore(ctx.globals, /*create=*/true));
  DFS_ASSIGN_OR_RETURN(uint64_t serial, store->Update(description, change));
  RenderChange(ctx.out, ctx.globals.json, description, serial);
  return Status::Ok();
}

}  // namespace dfs::tools
