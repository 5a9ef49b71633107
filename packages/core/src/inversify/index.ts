/**
 * A replica assembled by an inversify container.
 * A separate entry point, so that a program without dependency injection
 * never loads inversify: `@raftline/core` does not import it, and inversify
 * is an optional peer dependency, installed by those who import this.
 *
 * @module @raftline/core/inversify
 */

export { replicaModule, replicaFrom, RAFTLINE } from './replica-module';
// The inversify classes replicaModule's modules load into: the copy this
// entry point uses, for programs that assemble replicas.
export { Container, ContainerModule } from 'inversify';
