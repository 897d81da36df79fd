/* Plays the sandboxes the product must survive, for tests: a seccomp profile that refuses
 * io_uring_setup with EPERM, as container runtimes' default profiles do. */
#ifndef CSANDBOX_H
#define CSANDBOX_H

/* Installs, on the calling thread only, a filter that fails io_uring_setup with EPERM.
 * Returns 0 or -errno. Irreversible for that thread: run it on a thread of its own. */
int csandbox_deny_io_uring_on_this_thread(void);

#endif
