/* The few MPI calls `kiln train` makes under mpirun, as functions Swift can call (MPI_COMM_WORLD,
 * MPI_FLOAT and MPI_SUM are macros over Open MPI's internal objects, which Swift cannot import). */
#include <mpi.h>

/* Initialises MPI once; this process's rank and the number of processes. */
static inline int kiln_mpi_start(int *rank, int *size) {
  int started = 0, status = MPI_Initialized(&started);
  if (status == MPI_SUCCESS && !started) status = MPI_Init(NULL, NULL);
  if (status == MPI_SUCCESS) status = MPI_Comm_rank(MPI_COMM_WORLD, rank);
  if (status == MPI_SUCCESS) status = MPI_Comm_size(MPI_COMM_WORLD, size);
  return status;
}

/* values[0..count) ← their sum over all processes, in place. */
static inline int kiln_mpi_sum_floats(float *values, long count) {
  return MPI_Allreduce(MPI_IN_PLACE, values, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
}

static inline int kiln_mpi_sum_doubles(double *values, long count) {
  return MPI_Allreduce(MPI_IN_PLACE, values, (int)count, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
}

static inline int kiln_mpi_finish(void) { return MPI_Finalize(); }
