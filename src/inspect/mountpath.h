/**
 * @file mountpath.h
 * SOURCE operands that are paths inside a weightfs mount.
 */
#ifndef INSPECT_MOUNTPATH_H
#define INSPECT_MOUNTPATH_H

#include <stddef.h>

#include "inspect.h"

/** The operands a command runs on once mount paths are resolved, and what they own. */
struct mount_args {
	char **args;  /**< the new operand array (may alias cli->args' strings) */
	char **owned; /**< strings allocated here */
	size_t nowned, owned_cap;
};

/**
 * Replaces each SOURCE operand of @p cli that is a weightfs mount, or a path
 * inside one, by the mount's SOURCE; a path below the mount's root also
 * selects the tensors beneath it (as literal GLOBs; ls, stats and verify
 * only). Says what it did on stderr. Returns EXIT_OK, or the exit code after
 * saying what to do instead.
 */
int resolve_mount_paths(struct cli *cli, const struct command *cmd, struct mount_args *ma);

void mount_args_free(struct mount_args *ma);

#endif
