export const ROLES = ['customer', 'support', 'admin'] as const;
export type UserRole = (typeof ROLES)[number];

/** Who is acting: from a verified JWT (claims sub, role and, for customers, customerId). */
export interface Subject {
  sub: string;
  role: UserRole;
  customerId?: string;
}
