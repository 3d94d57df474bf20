/**
 * The pools and members that metrics may still name: pools configured now or with members still
 * draining, and members the registry still holds (draining ones included). A listener drops its
 * counter rows for anything else, so that its series (and `/metrics`) do not grow as members and
 * pools come and go.
 */
export interface LiveLabels {
  hasPool(pool: string): boolean;
  hasMember(pool: string, member: string): boolean;
}
