#include "context.h"

#include "dfs/common/error.h"
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

Status RunChange(CommandContext& ctx, const std::string& description,
                 const std::function<Status(ns::NamespaceWriter&)>& change) {
  DFS_ASSIGN_OR_RETURN(auto store, OpenStore(ctx.globals, /*create=*/true));
  DFS_ASSIGN_OR_RETURN(uint64_t serial, store->Update(description, change));
  RenderChange(ctx.out, ctx.globals.json, description, serial);
  return Status::Ok();
}

}  // namespace dfs::tools
