// context_thread: see the header.
#include "server/context_thread.h"

#include <pthread.h>

#include <cstdio>
#include <exception>

#include "server/metrics.h"

namespace ladle::server {

void run_context_thread(boost::asio::io_context& ioc, const char* name, const char* what, Metrics* metrics,
                        const char* where) {
  pthread_setname_np(pthread_self(), name);
  for (;;) {
    try {
      ioc.run();
      return;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "ladle serve: internal error on %s: %s\n", what, e.what());
    } catch (...) {
      std::fprintf(stderr, "ladle serve: internal error on %s (not a std::exception)\n", what);
    }
    if (metrics) metrics->on_internal_error(where);
  }
}

}  // namespace ladle::server
