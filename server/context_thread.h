// context_thread: the body of a thread that runs an asio io_context until it is stopped or runs
// out of work, surviving a handler that throws: asio leaves the context usable, so the thread
// logs the error, counts it in ladle_internal_errors_total{where} and runs the context again (no
// restart(): the context was not stopped). The server's I/O threads and the batch runner's use it.
#pragma once

#include <boost/asio/io_context.hpp>

namespace ladle::server {

class Metrics;

// Names the calling thread `name` (for top -H, perf and taskset), then runs `ioc` as above;
// `what` names the thread's role in the log line, `where` the metric's label; metrics may be null.
void run_context_thread(boost::asio::io_context& ioc, const char* name, const char* what, Metrics* metrics,
                        const char* where);

}  // namespace ladle::server
