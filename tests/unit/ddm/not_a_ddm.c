/* SPDX-License-Identifier: BSD-3-Clause */
/* A shared object that is not a DDM: it exports neither symbol the loader needs. */
int not_a_ddm(void);
int not_a_ddm(void)
{
	return 42;
}
