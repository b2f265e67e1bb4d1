/* The benchmark's floor: an HTTP/1.1 "server" that parses nothing. One thread, one epoll loop,
 * edge-triggered sockets; for every read that contains the end of a request head ("\r\n\r\n")
 * it writes one canned 12-byte response per head found. It does what the kernel makes every
 * server do (accept, read, write, epoll_wait) and nothing else, so its CPU per request is the
 * lowest any real server can reach on this machine. Not a server: bench/run.py only.
 *
 * Usage: floor PORT */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static const char response[] = "HTTP/1.1 200 OK\r\nContent-Length: 12\r\nContent-Type: text/plain\r\n\r\nhello world\n";

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: floor PORT\n");
        return 2;
    }
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1])),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 4096) < 0) {
        perror("floor: listen");
        return 1;
    }
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd}, evs[256];
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    static char buf[16384], out[16384];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == lfd) {
                int c;
                while ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                    struct epoll_event ce = {.events = EPOLLIN | EPOLLET, .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce);
                }
                continue;
            }
            for (;;) {
                ssize_t r = read(fd, buf, sizeof(buf));
                if (r <= 0) {
                    if (r == 0)
                        close(fd);
                    break;
                }
                size_t k = 0;
                for (char *p = buf; (p = memmem(p, (size_t)(buf + r - p), "\r\n\r\n", 4)) != NULL; p += 4)
                    if (k + sizeof(response) - 1 <= sizeof(out)) {
                        memcpy(out + k, response, sizeof(response) - 1);
                        k += sizeof(response) - 1;
                    }
                if (k && write(fd, out, k) < 0) {
                    close(fd);
                    break;
                }
                if ((size_t)r < sizeof(buf))
                    break;
            }
        }
    }
}
