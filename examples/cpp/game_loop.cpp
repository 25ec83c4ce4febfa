// game_loop: a 60 Hz frame loop driving wsx in poll mode, as a game client.
//
//   game_loop [--frames N] ws://HOST:PORT/PATH
//
// Every frame it calls wsx_loop_poll(loop, 0) (never blocks), sends its own
// state, and applies the updates that arrived (from an echo server: its own
// state coming back; from a chat server: the other players'). After a drop it
// reconnects with a growing back-off. With --frames N it stops after N frames
// and prints a summary; it exits 0 if at least one update was applied.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include "wsx.h"

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kFrame = std::chrono::microseconds(1000000 / 60);

struct LoopDeleter {
    void operator()(wsx_loop *loop) const { wsx_loop_free(loop); }
};
struct ConnDeleter {
    void operator()(wsx_conn *conn) const { wsx_conn_free(conn); }
};
using LoopPtr = std::unique_ptr<wsx_loop, LoopDeleter>;
using ConnPtr = std::unique_ptr<wsx_conn, ConnDeleter>;

struct Vec2 {
    double x = 0, y = 0;
};

class Game {
  public:
    explicit Game(std::string url) : url_(std::move(url)) {}

    bool init() {
        wsx_loop *loop = nullptr;
        if (wsx_loop_new(&loop) != WSX_OK) return false;
        loop_.reset(loop);
        return true;
    }

    // One frame: network, simulation, send.
    void frame(long n) {
        now_ = n;
        if (wsx_loop_poll(loop_.get(), 0) != WSX_OK) {
            std::fprintf(stderr, "game_loop: poll: %s\n", wsx_last_error_message());
        }
        if (!conn_ && n >= reconnect_at_) connect(n);
        self_.x = std::cos(n / 60.0);
        self_.y = std::sin(n / 60.0);
        if (open_) {
            char state[96];
            int len = std::snprintf(state, sizeof state, "state %ld %.4f %.4f", n, self_.x, self_.y);
            wsx_result r = wsx_conn_send(conn_.get(), WSX_MSG_TEXT, reinterpret_cast<const uint8_t *>(state),
                                         static_cast<size_t>(len));
            if (r == WSX_OK) sent_++;
        }
    }

    // Closes cleanly, waiting a little for the close handshake.
    void finish() {
        if (conn_) wsx_conn_close(conn_.get(), 1000, "game over");
        for (int i = 0; i < 200 && conn_; i++) wsx_loop_poll(loop_.get(), 10);
        std::printf("frames done: sent %ld, applied %ld, reconnects %ld, last remote (%.2f, %.2f)\n", sent_,
                    applied_, reconnects_, remote_.x, remote_.y);
    }

    long applied() const { return applied_; }

  private:
    void connect(long n) {
        wsx_conn_callbacks callbacks;
        std::memset(&callbacks, 0, sizeof callbacks);
        callbacks.user_data = this;
        callbacks.on_open = [](void *self, wsx_conn *, const wsx_open *) {
            static_cast<Game *>(self)->on_open();
        };
        callbacks.on_message = [](void *self, wsx_conn *, const wsx_message *msg) {
            static_cast<Game *>(self)->on_message(*msg);
        };
        callbacks.on_error = [](void *, wsx_conn *, const wsx_error *error) {
            std::fprintf(stderr, "game_loop: %s\n", error->message);
        };
        callbacks.on_close = [](void *self, wsx_conn *, const wsx_close *close) {
            static_cast<Game *>(self)->on_close(*close);
        };
        wsx_conn *conn = nullptr;
        if (wsx_connect(loop_.get(), url_.c_str(), nullptr, &callbacks, &conn) != WSX_OK) {
            std::fprintf(stderr, "game_loop: connect: %s\n", wsx_last_error_message());
            schedule_reconnect(n);
            return;
        }
        conn_.reset(conn);
    }

    void on_open() {
        if (connected_before_) reconnects_++;
        connected_before_ = true;
        open_ = true;
        backoff_frames_ = 15;
        std::printf("connected\n");
        std::fflush(stdout);
    }

    void on_message(const wsx_message &msg) {
        if (msg.kind != WSX_MSG_TEXT) return;
        std::string text(reinterpret_cast<const char *>(msg.data), msg.len);
        long frame = 0;
        Vec2 p;
        if (std::sscanf(text.c_str(), "state %ld %lf %lf", &frame, &p.x, &p.y) == 3) {
            remote_ = p;
            applied_++;
        }
    }

    void on_close(const wsx_close &close) {
        std::printf("disconnected: %u%s%s\n", static_cast<unsigned>(close.code), close.reason_len ? " " : "",
                    close.reason);
        std::fflush(stdout);
        open_ = false;
        // The handle may be released right here, inside its own callback.
        conn_.reset();
        schedule_reconnect(now_);
    }

    void schedule_reconnect(long n) {
        reconnect_at_ = n + backoff_frames_;
        backoff_frames_ = backoff_frames_ * 2 > 120 ? 120 : backoff_frames_ * 2;
    }

    std::string url_;
    LoopPtr loop_;
    ConnPtr conn_;
    bool open_ = false;
    bool connected_before_ = false;
    long now_ = 0;
    long reconnect_at_ = 0;
    long backoff_frames_ = 15;
    long sent_ = 0, applied_ = 0, reconnects_ = 0;
    Vec2 self_, remote_;
};

}  // namespace

int main(int argc, char **argv) {
    long frames = -1;
    const char *url = nullptr;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && std::strcmp(argv[i], "--frames") == 0) {
            frames = std::strtol(argv[++i], nullptr, 10);
        } else if (!url && argv[i][0] != '-') {
            url = argv[i];
        } else {
            url = nullptr;
            break;
        }
    }
    if (!url) {
        std::fprintf(stderr, "usage: game_loop [--frames N] ws://HOST:PORT/PATH\n");
        return 2;
    }
    Game game(url);
    if (!game.init()) {
        std::fprintf(stderr, "game_loop: %s\n", wsx_last_error_message());
        return 1;
    }
    auto next = Clock::now();
    for (long n = 0; frames < 0 || n < frames; n++) {
        game.frame(n);
        next += kFrame;
        std::this_thread::sleep_until(next);
    }
    game.finish();
    return game.applied() > 0 ? 0 : 1;
}
