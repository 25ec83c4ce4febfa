// game_loop: a 60 Hz frame loop driving wsx in poll mode, as a game client.
//
//   game_loop [--frames N] ws://HOST:PORT/PATH
//
// Every frame it calls wsx_loop_poll(loop, 0) (never blocks), sends its own
// state, and applies the updates that arrived (from an echo server: its own
// state coming back; from a chat server: the other players'). The library
// reconnects by itself (wsx_client_options_set_reconnect): after a drop, a
// server's restart (1001, 1012) or a failed attempt it waits with a growing,
// jittered back-off and connects again, on the same wsx_conn. The callbacks
// on_disconnect and on_connecting tell the game when it is offline and when
// the next attempt starts; on_open's is_reconnect marks a reconnect, which is
// where a game would re-send its login or resubscribe. With --frames N it
// stops after N frames and prints a summary; it exits 0 if at least one
// update was applied.
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
    void operator()(wsx_conn *conn) const { wsx_conn_release(conn); }
};
struct OptionsDeleter {
    void operator()(wsx_client_options *options) const { wsx_client_options_free(options); }
};
using LoopPtr = std::unique_ptr<wsx_loop, LoopDeleter>;
using ConnPtr = std::unique_ptr<wsx_conn, ConnDeleter>;
using OptionsPtr = std::unique_ptr<wsx_client_options, OptionsDeleter>;

struct Vec2 {
    double x = 0, y = 0;
};

class Game {
  public:
    explicit Game(std::string url) : url_(std::move(url)) {}

    // Creates the loop and starts connecting; the library keeps the
    // connection up from here on.
    bool init() {
        wsx_loop *loop = nullptr;
        if (wsx_loop_new(&loop) != WSX_OK) return false;
        loop_.reset(loop);

        wsx_client_options *raw = nullptr;
        if (wsx_client_options_new(&raw) != WSX_OK) return false;
        OptionsPtr options(raw);
        // Back-off: the first wait up to 250 ms, doubling up to 2 s, forever
        // (the defaults are 500 ms and 30 s). The default close codes retried
        // are 1001, 1006, 1011, 1012, 1013 and 1014.
        wsx_reconnect_options reconnect{};
        reconnect.struct_size = sizeof reconnect;
        if (wsx_reconnect_options_default(&reconnect) != WSX_OK) return false;
        reconnect.initial_delay_ms = 250;
        reconnect.max_delay_ms = 2000;
        if (wsx_client_options_set_reconnect(options.get(), &reconnect) != WSX_OK) return false;

        wsx_conn_callbacks callbacks{};
        callbacks.struct_size = sizeof callbacks;
        callbacks.user_data = this;
        callbacks.on_connecting = [](void *self, wsx_conn *, const wsx_connecting *connecting) {
            static_cast<Game *>(self)->on_connecting(*connecting);
        };
        callbacks.on_disconnect = [](void *self, wsx_conn *, const wsx_close *close) {
            static_cast<Game *>(self)->on_disconnect(*close);
        };
        callbacks.on_open = [](void *self, wsx_conn *, const wsx_open *open) {
            static_cast<Game *>(self)->on_open(*open);
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
        if (wsx_loop_connect(loop_.get(), url_.c_str(), options.get(), &callbacks, &conn) != WSX_OK) return false;
        conn_.reset(conn);
        return true;
    }

    // One frame: network, simulation, send.
    void frame(long n) {
        if (wsx_loop_poll(loop_.get(), 0) != WSX_OK) {
            std::fprintf(stderr, "game_loop: poll: %s\n", wsx_last_error_message());
        }
        self_.x = std::cos(n / 60.0);
        self_.y = std::sin(n / 60.0);
        // Offline (between connections) the state is not sent: the next
        // frame's state replaces it anyway.
        if (open_) {
            char state[96];
            int len = std::snprintf(state, sizeof state, "state %ld %.4f %.4f", n, self_.x, self_.y);
            wsx_result r = wsx_conn_send(conn_.get(), WSX_MSG_KIND_TEXT, reinterpret_cast<const uint8_t *>(state),
                                         static_cast<size_t>(len));
            if (r == WSX_OK) sent_++;
        }
    }

    // Closes cleanly (which also stops reconnecting), waiting a little for
    // the close handshake.
    void finish() {
        if (!closed_) wsx_conn_close(conn_.get(), 1000, "game over");
        for (int i = 0; i < 200 && !closed_; i++) wsx_loop_poll(loop_.get(), 10);
        conn_.reset();
        std::printf("frames done: sent %ld, applied %ld, reconnects %ld, last remote (%.2f, %.2f)\n", sent_,
                    applied_, reconnects_, remote_.x, remote_.y);
    }

    long applied() const { return applied_; }
    bool closed() const { return closed_; }

  private:
    void on_connecting(const wsx_connecting &connecting) {
        if (connecting.attempt > 0) {
            std::printf("reconnecting: attempt %u in %llu ms\n", static_cast<unsigned>(connecting.attempt),
                        static_cast<unsigned long long>(connecting.delay_ms));
            std::fflush(stdout);
        }
    }

    void on_open(const wsx_open &open) {
        if (open.is_reconnect) reconnects_++;  // a real game re-sends its login here
        open_ = true;
        std::printf(open.is_reconnect ? "reconnected\n" : "connected\n");
        std::fflush(stdout);
    }

    void on_message(const wsx_message &msg) {
        if (msg.kind != WSX_MSG_KIND_TEXT) return;
        std::string text(reinterpret_cast<const char *>(msg.data), msg.len);
        long frame = 0;
        Vec2 p;
        if (std::sscanf(text.c_str(), "state %ld %lf %lf", &frame, &p.x, &p.y) == 3) {
            remote_ = p;
            applied_++;
        }
    }

    // The connection dropped and the library tries again.
    void on_disconnect(const wsx_close &close) {
        open_ = false;
        std::printf("disconnected: %u%s%.*s\n", static_cast<unsigned>(close.code), close.reason_len ? " " : "",
                    static_cast<int>(close.reason_len), close.reason);
        std::fflush(stdout);
    }

    // The end: the game closed, the server closed normally, or the policy
    // gave up. No callback of this connection follows.
    void on_close(const wsx_close &close) {
        open_ = false;
        closed_ = true;
        std::printf("closed: %u%s%.*s\n", static_cast<unsigned>(close.code), close.reason_len ? " " : "",
                    static_cast<int>(close.reason_len), close.reason);
        std::fflush(stdout);
    }

    std::string url_;
    LoopPtr loop_;
    ConnPtr conn_;
    bool open_ = false;
    bool closed_ = false;
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
    for (long n = 0; (frames < 0 || n < frames) && !game.closed(); n++) {
        game.frame(n);
        next += kFrame;
        std::this_thread::sleep_until(next);
    }
    game.finish();
    return game.applied() > 0 ? 0 : 1;
}
