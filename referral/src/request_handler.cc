#include "dfs/referral/request_handler.h"

#include "dfs/common/error.h"
#include "dfs/referral/codec.h"

namespace dfs::referral {

HandledRequest RequestHandler::Handle(const Frame& frame,
                                      const Requester& client) {
  auto error = [](RequestOutcome outcome, uint32_t status,
                  std::string_view message) {
    return HandledRequest{EncodeErrorFrame(status, message), outcome, {}};
  };
  if (frame.type != FrameType::kReferralRequest) {
    return error(RequestOutcome::kBadRequest, kStatusInvalidParameter,
                 "expected a referral request");
  }
  auto request = DecodeRequest(frame.payload);
  if (!request) {
    return error(RequestOutcome::kBadRequest, kStatusInvalidParameter,
                 request.error().Message());
  }
  auto answer = resolver_.Resolve(request->path, client);
  if (!answer) {
    const bool missing =
        answer.error().code == make_error_code(Errc::kNotFound);
    return error(
        missing ? RequestOutcome::kNotFound : RequestOutcome::kBadRequest,
        missing ? kStatusNotFound : kStatusInvalidParameter,
        answer.error().Message());
  }
  auto bytes = EncodeResponse(*answer, request->max_referral_level);
  if (!bytes) {
    return error(RequestOutcome::kUnsupported, kStatusNotSupported,
                 bytes.error().Message());
  }
  return HandledRequest{EncodeFrame(FrameType::kReferralResponse, *bytes),
                        RequestOutcome::kOk, std::move(answer->dfs_path)};
}

}  // namespace dfs::referral
