/*
 * A null FUSE filesystem for the benchmarks' metadata references: the floor a FUSE
 * daemon can reach on this kernel and machine. It serves, from nothing but arithmetic,
 * the tree that bench/fuse_child.ts writes (`d<i % 1000>/f<i>` for i < FILES, sizes
 * 100 + i % 900) and an xattr `user.realize.status` of "remote 0%" on every file, with
 * libfuse 3's low-level API on one thread — like realize's own request loop — and the
 * same 1 s entry and attribute timeouts and `default_permissions`.
 *
 * Usage: null_fuse MOUNTPOINT FILES   (runs in the foreground until SIGTERM or unmount)
 *
 * Build: cc -O2 null_fuse.c $(pkg-config --cflags --libs fuse3) -o null_fuse
 */
#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define DIRS 1000
#define TTL 1.0
#define XATTR_NAME "user.realize.status"
#define XATTR_VALUE "remote 0%"

static long files;

/* Inodes: 1 the root, 2 + d directory d, 2 + DIRS + i file i. */
static long dirs(void) { return files < DIRS ? files : DIRS; }
static int is_dir(fuse_ino_t ino) { return ino >= 2 && (long)ino < 2 + dirs(); }
static int is_file(fuse_ino_t ino) { return (long)ino >= 2 + DIRS && (long)ino < 2 + DIRS + files; }

static int attr_of(fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mtime = st->st_ctime = st->st_atime = 1700000000;
	if (ino == FUSE_ROOT_ID || is_dir(ino)) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		st->st_size = 4096;
		return 0;
	}
	if (!is_file(ino))
		return ENOENT;
	st->st_mode = S_IFREG | 0644;
	st->st_nlink = 1;
	st->st_size = 100 + ((long)ino - 2 - DIRS) % 900;
	st->st_blocks = 8;
	return 0;
}

/* The number after `prefix` in `name`, or -1 when `name` is not prefix<decimal>. */
static long number_after(const char *name, char prefix)
{
	char *end;
	long n;
	if (name[0] != prefix || name[1] < '0' || name[1] > '9' || (name[1] == '0' && name[2]))
		return -1;
	errno = 0;
	n = strtol(name + 1, &end, 10);
	return errno || *end ? -1 : n;
}

static void entry_of(fuse_ino_t ino, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = ino;
	e->attr_timeout = TTL;
	e->entry_timeout = TTL;
	attr_of(ino, &e->attr);
}

static void nf_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	fuse_ino_t ino = 0;
	long n;
	if (parent == FUSE_ROOT_ID) {
		n = number_after(name, 'd');
		if (n >= 0 && n < dirs())
			ino = 2 + n;
	} else if (is_dir(parent)) {
		n = number_after(name, 'f');
		if (n >= 0 && n < files && n % DIRS == (long)parent - 2)
			ino = 2 + DIRS + n;
	}
	if (ino == 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	entry_of(ino, &e);
	fuse_reply_entry(req, &e);
}

static void nf_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;
	int err = attr_of(ino, &st);
	(void)fi;
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_attr(req, &st, TTL);
}

/* Entry `k` of a directory (k from 0), its name written into `name`; 0 past the end. */
static fuse_ino_t child(fuse_ino_t dir, long k, char *name, size_t size)
{
	if (dir == FUSE_ROOT_ID) {
		if (k >= dirs())
			return 0;
		snprintf(name, size, "d%ld", k);
		return 2 + k;
	}
	long i = ((long)dir - 2) + k * DIRS;
	if (i >= files)
		return 0;
	snprintf(name, size, "f%ld", i);
	return 2 + DIRS + i;
}

static void listing(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, int plus)
{
	char *buf, name[32];
	size_t used = 0;
	fuse_ino_t c;
	if (ino != FUSE_ROOT_ID && !is_dir(ino)) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	buf = malloc(size);
	if (buf == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	for (long k = off; (c = child(ino, k, name, sizeof(name))) != 0; k++) {
		size_t need;
		if (plus) {
			struct fuse_entry_param e;
			entry_of(c, &e);
			need = fuse_add_direntry_plus(req, buf + used, size - used, name, &e, k + 1);
		} else {
			struct stat st = {.st_ino = c, .st_mode = is_dir(c) ? S_IFDIR : S_IFREG};
			need = fuse_add_direntry(req, buf + used, size - used, name, &st, k + 1);
		}
		if (need > size - used)
			break;
		used += need;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void nf_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	(void)fi;
	listing(req, ino, size, off, 0);
}

static void nf_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	(void)fi;
	listing(req, ino, size, off, 1);
}

static void nf_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	size_t len = strlen(XATTR_VALUE);
	if (!is_file(ino) || strcmp(name, XATTR_NAME) != 0)
		fuse_reply_err(req, ENODATA);
	else if (size == 0)
		fuse_reply_xattr(req, len);
	else if (size < len)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, XATTR_VALUE, len);
}

static const struct fuse_lowlevel_ops ops = {
	.lookup = nf_lookup,
	.getattr = nf_getattr,
	.readdir = nf_readdir,
	.readdirplus = nf_readdirplus,
	.getxattr = nf_getxattr,
};

int main(int argc, char **argv)
{
	char *args_v[] = {argv[0], "-o", "default_permissions,fsname=null_fuse", NULL};
	struct fuse_args args = FUSE_ARGS_INIT(3, args_v);
	struct fuse_session *se;
	int ret = 1;
	if (argc != 3 || (files = atol(argv[2])) <= 0) {
		fprintf(stderr, "usage: %s MOUNTPOINT FILES\n", argv[0]);
		return 2;
	}
	se = fuse_session_new(&args, &ops, sizeof(ops), NULL);
	if (se == NULL)
		return 1;
	if (fuse_set_signal_handlers(se) == 0) {
		if (fuse_session_mount(se, argv[1]) == 0) {
			printf("mounted\n");
			fflush(stdout);
			ret = fuse_session_loop(se) == 0 ? 0 : 1;
			fuse_session_unmount(se);
		}
		fuse_remove_signal_handlers(se);
	}
	fuse_session_destroy(se);
	return ret;
}
